"""What the recycling domain answers, built from the knowledge base (no I/O, no SQL): the endpoints' pages,
and the rules other domains look up (a scan's answer: :func:`find_rule`, :func:`search_rule`,
:func:`answer_for`, :func:`classifier_taxonomy`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from ecoeco.core.errors import NotFound, ProblemError
from ecoeco.core.language import Lang
from ecoeco.core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from ecoeco.recycling.answer import Answer, compose_answer
from ecoeco.recycling.knowledge import MAX_QUERY_LENGTH, KnowledgeBase, get_knowledge_base
from ecoeco.recycling.model import RECYCLABLE, Item, Target
from ecoeco.recycling.schemas import (
    CategoryRef,
    CategoryTree,
    ItemGuide,
    ItemSummary,
    MajorNode,
    MiddleNode,
    Situation,
    TagOut,
)
from ecoeco.recycling.search import parse_query
from ecoeco.vision import Middle as TaxonomyMiddle
from ecoeco.vision import Taxonomy

T = TypeVar("T")


def category_tree(kb: KnowledgeBase, lang: Lang) -> CategoryTree:
    majors = []
    for major in kb.majors.values():
        middles = [
            MiddleNode(
                id=m.id,
                name_ko=m.name_ko,
                name_en=m.name_en,
                summary=m.summary.get(lang),
                item_count=len(kb.items_in(m.id)),
            )
            for m in kb.middles.values()
            if m.major == major.id
        ]
        majors.append(
            MajorNode(
                id=major.id,
                name_ko=major.name_ko,
                name_en=major.name_en,
                summary=major.summary.get(lang),
                item_count=sum(m.item_count for m in middles),
                middles=middles,
            )
        )
    return CategoryTree(version=kb.version, lang=lang, majors=majors)


def _summary(
    kb: KnowledgeBase, item: Item, score: float | None = None, matched: str | None = None
) -> ItemSummary:
    major, middle = kb.category_of(item)
    return ItemSummary(
        id=item.id,
        name_ko=item.name_ko,
        name_en=item.name_en,
        major=major.id,
        middle=middle.id,
        synonyms=list(item.synonyms),
        score=score,
        matched=matched,
    )


def search_items(
    kb: KnowledgeBase, *, q: str | None, category: str | None, cursor: str | None, limit: int
) -> Page[ItemSummary]:
    if category is not None and category not in kb.majors and category not in kb.middles:
        raise ProblemError(
            f"There is no category {category!r}; GET /api/v1/recycling/categories lists them.",
            code="unknown-category",
        )
    if q is None:
        rows = [_summary(kb, item) for item in kb.items_in(category)]
    else:
        if parse_query(q).is_empty:
            raise ProblemError(
                "The query names no item (it is empty or only says how to throw something away); "
                "name the item, e.g. q=페트병, or leave q out to browse.",
                code="empty-query",
            )
        hits = kb.search(q, limit=len(kb.items), within=category)
        rows = [_summary(kb, h.item, h.score, h.matched) for h in hits]
    return _paginate(kb, rows, cursor=cursor, limit=limit, scope=f"items\0{q}\0{category}")


def item_guide(kb: KnowledgeBase, item_id: str, lang: Lang) -> ItemGuide:
    item = kb.items.get(item_id)
    if item is None:
        raise NotFound(
            f"There is no item {item_id!r} in the recycling knowledge base.", code="item-not-found"
        )
    answer = compose_answer(kb, target=item, tags=[], lang=lang)
    major, middle = kb.category_of(item)
    situations = []
    for tag in kb.situations_for(item):
        instead = kb.redirect_for(tag, item)
        situations.append(
            Situation(
                tag=tag.id,
                name=tag.name(lang),
                prep=kb.prep_for(tag, item).get(lang),
                instead_id=instead.id if instead else None,
                instead=instead.name(lang) if instead else None,
            )
        )
    return ItemGuide(
        id=item.id,
        name_ko=item.name_ko,
        name_en=item.name_en,
        synonyms=list(item.synonyms),
        major=CategoryRef(id=major.id, name=major.name(lang)),
        middle=CategoryRef(id=middle.id, name=middle.name(lang)),
        summary=answer.reply,
        bin=answer.bin,
        steps=answer.steps,
        situations=situations,
        not_accepted=answer.not_accepted,
        notes=answer.notes,
        version=kb.version,
        lang=lang,
    )


def list_tags(kb: KnowledgeBase, lang: Lang, *, cursor: str | None, limit: int) -> Page[TagOut]:
    rows = [
        TagOut(
            id=t.id,
            name_ko=t.name_ko,
            name_en=t.name_en,
            group=t.group,
            prep=t.prep.get(lang),
            applies_to=list(t.applies_to),
        )
        for t in kb.tags.values()
    ]
    return _paginate(kb, rows, cursor=cursor, limit=limit, scope="tags")


def _paginate(kb: KnowledgeBase, rows: Sequence[T], *, cursor: str | None, limit: int, scope: str) -> Page[T]:
    """Offset cursors are stable here: the rows are a pure function of the query and the data version,
    both of which the cursor pins, so a cursor from another query or an older deploy is refused."""
    fingerprint = hashlib.sha256(f"{kb.version}\0{scope}".encode()).hexdigest()[:16]
    start = 0
    values = decode_cursor(cursor, keys=("f", "o"))
    if values is not None:
        offset = values["o"]
        if values["f"] != fingerprint or not isinstance(offset, int) or not 0 < offset < len(rows):
            raise InvalidCursor(
                "The cursor belongs to another query or an older data version; start again without it."
            )
        start = offset
    end = start + limit
    next_cursor = encode_cursor({"f": fingerprint, "o": end}) if end < len(rows) else None
    return Page[T](items=list(rows[start:end]), next_cursor=next_cursor)


# --- the rules other domains look up ------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """The most specific rule for something: an item's own, or (``item_id`` None) its category's."""

    major: str
    middle: str
    item_id: str | None


def _rule(kb: KnowledgeBase, target: Target) -> Rule:
    major, middle = kb.category_of(target)
    return Rule(major.id, middle.id, target.id if isinstance(target, Item) else None)


def recyclable_kinds() -> tuple[str, ...]:
    """The recyclable kinds (the recyclable stream's middle categories), in the knowledge base's order."""
    return tuple(m.id for m in get_knowledge_base().middles.values() if m.major == RECYCLABLE)


def streams() -> tuple[str, ...]:
    """The waste streams (major categories), in the knowledge base's order."""
    return tuple(get_knowledge_base().majors)


@lru_cache(maxsize=1)
def classifier_taxonomy() -> Taxonomy:
    """The labels a classifier may answer with: the knowledge base's categories, items and tags."""
    kb = get_knowledge_base()
    return Taxonomy(
        majors={m.id: m.name_en for m in kb.majors.values()},
        middles={m.id: TaxonomyMiddle(name=m.name_en, major=m.major) for m in kb.middles.values()},
        items={i.id: i.name_en for i in kb.items.values()},
        tags={t.id: t.name_en for t in kb.tags.values()},
        needs_middle=frozenset({RECYCLABLE}),
    )


def find_rule(*, item_id: str | None, category: str | None, item_hint: str | None) -> Rule | None:
    """The rule of a known item, else the most specific one for a category and a hint (see
    :meth:`KnowledgeBase.resolve`); None when nothing fits."""
    kb = get_knowledge_base()
    target = kb.items.get(item_id or "") or kb.resolve(category, item_hint)
    return _rule(kb, target) if target is not None else None


def search_rule(text: str) -> tuple[Rule, float] | None:
    """The item a typed description names best, and how well (the search score)."""
    kb = get_knowledge_base()
    hits = kb.search(text.strip()[:MAX_QUERY_LENGTH], limit=1) if text.strip() else []
    return (_rule(kb, hits[0].item), hits[0].score) if hits else None


def answer_for(rule: Rule, *, tags: list[str], lang: Lang) -> Answer | None:
    """The numbered disposal answer of a rule in the situation ``tags`` describe."""
    kb = get_knowledge_base()
    target = kb.items.get(rule.item_id or "") or kb.middles.get(rule.middle)
    return compose_answer(kb, target=target, tags=tags, lang=lang) if target is not None else None
