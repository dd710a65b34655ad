"""Public, read-only endpoints of the rules knowledge base (no sign-in).

Responses depend only on the data version and the language, so they carry an ETag built from both and
may be cached; ``If-None-Match`` with the current ETag gets a 304.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ecoeco.core.language import Lang, LangDep
from ecoeco.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorQuery, LimitQuery, Page
from ecoeco.recycling import service
from ecoeco.recycling.knowledge import MAX_QUERY_LENGTH, KnowledgeBase, get_knowledge_base
from ecoeco.recycling.schemas import CategoryTree, ItemGuide, ItemSummary, TagOut

# Rules change only with a deploy; an hour of caching plus ETag revalidation keeps clients cheap and fresh.
CACHE_CONTROL = "public, max-age=3600"


@asynccontextmanager
async def _validate_rules(_app: Any) -> AsyncIterator[None]:
    # Load at start-up so broken data fails the deploy (readiness never turns green), not a user's request.
    get_knowledge_base()
    yield


router = APIRouter(prefix="/recycling", tags=["recycling"], lifespan=_validate_rules)


def _knowledge_base() -> KnowledgeBase:
    return get_knowledge_base()


KnowledgeDep = Annotated[KnowledgeBase, Depends(_knowledge_base)]


def _cached(request: Request, kb: KnowledgeBase, lang: Lang, body: BaseModel) -> Response:
    etag = f'"{kb.version}-{lang}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Language",
        "Content-Language": lang,
    }
    wanted = {t.strip().removeprefix("W/") for t in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


@router.get("/categories", response_model=CategoryTree)
async def categories(request: Request, kb: KnowledgeDep, lang: LangDep) -> Response:
    """The category tree: majors (waste streams) and their middles, with item counts."""
    return _cached(request, kb, lang, service.category_tree(kb, lang))


@router.get("/items", response_model=Page[ItemSummary])
async def items(
    request: Request,
    kb: KnowledgeDep,
    lang: LangDep,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_LENGTH,
            description="Item name in Korean or English; spacing, particles and synonyms are handled.",
        ),
    ] = None,
    category: Annotated[str | None, Query(max_length=64, description="A major or middle id.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    """Search items (best match first) or, without ``q``, browse them in catalogue order."""
    page = service.search_items(kb, q=q, category=category, cursor=cursor, limit=limit)
    return _cached(request, kb, lang, page)


@router.get("/items/{item_id}", response_model=ItemGuide)
async def item(request: Request, item_id: str, kb: KnowledgeDep, lang: LangDep) -> Response:
    """The full disposal guide of an item; ``Accept-Language: en`` for English."""
    return _cached(request, kb, lang, service.item_guide(kb, item_id, lang))


@router.get("/tags", response_model=Page[TagOut])
async def tags(
    request: Request,
    kb: KnowledgeDep,
    lang: LangDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = MAX_LIMIT,
) -> Response:
    """Situation tags the classifier may report, each with the preparation it calls for."""
    return _cached(request, kb, lang, service.list_tags(kb, lang, cursor=cursor, limit=limit))
