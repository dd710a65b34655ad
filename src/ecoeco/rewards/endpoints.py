"""The public character catalogue (no sign-in). A user's own collection is served under /users/me."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter

from ecoeco.core.language import LangDep
from ecoeco.rewards import service
from ecoeco.rewards.catalog import get_catalog
from ecoeco.rewards.schemas import CharacterCatalog


@asynccontextmanager
async def _validate_catalog(_app: Any) -> AsyncIterator[None]:
    # Load at start-up so broken character data fails the deploy, not a user's request.
    get_catalog()
    yield


router = APIRouter(prefix="/rewards", tags=["rewards"], lifespan=_validate_catalog)


@router.get("/characters", response_model=CharacterCatalog, summary="Every collectible character")
async def characters(lang: LangDep) -> CharacterCatalog:
    return service.catalog_view(lang)
