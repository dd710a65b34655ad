"""The recycling knowledge base: our Korean 분리배출 rules, as read-only data shipped in the package.

Why data files and not database tables: the rules change only when we change them, never through the
API, so they are reviewed and versioned with the code, identical in every replica, loaded once per process
and validated at start-up (a broken rule fails the deploy instead of a user's scan). Nothing here does I/O
after the first load, so the sync APIs and the answer workers can call it freely.

    kb = get_knowledge_base()
    kb.search("우유팩을")[0].item.id        # 'milk_carton'
    kb.resolve("clear_pet", "water bottle")  # the clear PET water-bottle item
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from ecoeco.recycling.loader import DATA_DIR, Catalogue, KnowledgeBaseError, load_catalogue
from ecoeco.recycling.model import Item, Major, Middle, NotAcceptedRule, Tag, Target, Text
from ecoeco.recycling.search import CATEGORY_WEIGHT, MAX_QUERY_LENGTH, Entry, Key, SearchIndex, parse_query

__all__ = [
    "MAX_QUERY_LENGTH",
    "Item",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Major",
    "Middle",
    "SearchHit",
    "Tag",
    "get_knowledge_base",
    "load_knowledge_base",
]

# A classifier's hint must name an item (a substring of a name, or most of its words), not merely share a
# word or the category with it, to pick that item over the category's own rule.
RESOLVE_MIN_SCORE = 0.6


@dataclass(frozen=True)
class SearchHit:
    item: Item
    score: float  # 1.0: exact name or synonym; lower: partial, or only the category's name matched
    matched: str  # the name or synonym that matched best

    @property
    def id(self) -> str:
        return self.item.id


class KnowledgeBase:
    """Validated, immutable rules with search; build it through :func:`get_knowledge_base`."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.version = catalogue.version
        self.majors: Mapping[str, Major] = MappingProxyType(catalogue.majors)
        self.middles: Mapping[str, Middle] = MappingProxyType(catalogue.middles)
        self.items: Mapping[str, Item] = MappingProxyType(catalogue.items)
        self.tags: Mapping[str, Tag] = MappingProxyType(catalogue.tags)
        self._tag_order = {tag_id: n for n, tag_id in enumerate(self.tags)}
        self._item_list = list(self.items.values())
        # An item is found by its own names and, weighted down, by its category's (shared per middle).
        groups = {middle_id: n for n, middle_id in enumerate(self.middles)}
        self.index = SearchIndex(
            [
                Entry(
                    tuple(Key.of(t) for t in (item.name_ko, item.name_en, *item.synonyms)),
                    groups[item.middle],
                )
                for item in self._item_list
            ],
            [self._category_keys(middle) for middle in self.middles.values()],
        )

    def _category_keys(self, middle: Middle) -> tuple[Key, ...]:
        names = (middle.name_ko, middle.name_en, *middle.synonyms, *self.majors[middle.major].synonyms)
        return tuple(Key.of(name, CATEGORY_WEIGHT) for name in names)

    # --- the category tree -------------------------------------------------------------------------

    def ancestors(self, record_id: str) -> tuple[str, ...]:
        """The id and the categories above it, most specific first: item → middle → major."""
        if record_id in self.items:
            middle = self.middles[self.items[record_id].middle]
            return (record_id, middle.id, middle.major)
        if record_id in self.middles:
            return (record_id, self.middles[record_id].major)
        return (record_id,)

    def category_of(self, target: Target) -> tuple[Major, Middle]:
        middle = self.middles[target.middle] if isinstance(target, Item) else target
        return self.majors[middle.major], middle

    def items_in(self, category: str | None = None) -> list[Item]:
        """Items in catalogue order, all or within a major or middle category."""
        if category is None:
            return list(self._item_list)
        return [item for item in self._item_list if category in self.ancestors(item.id)]

    def entity(self, record_id: str) -> Item | Middle | Major:
        """An item or category by id (``KeyError`` if there is none)."""
        found = self.items.get(record_id) or self.middles.get(record_id) or self.majors.get(record_id)
        if found is None:
            raise KeyError(record_id)
        return found

    # --- search --------------------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 10, within: str | None = None) -> list[SearchHit]:
        """Items matching ``query``, best first; ``within`` limits them to a major or middle category."""
        if len(query) > MAX_QUERY_LENGTH:
            raise ValueError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        accept = None
        if within is not None:
            members = {item.id for item in self.items_in(within)}
            accept = lambda position: self._item_list[position].id in members  # noqa: E731
        matches = self.index.search(parse_query(query), accept=accept)
        return [SearchHit(self._item_list[m.position], m.score, m.matched) for m in matches[:limit]]

    def resolve(self, middle: str | None, item_hint: str | None) -> Item | Middle | None:
        """The most specific rule for a classifier's output.

        ``middle`` is a middle (or major) category id, ``item_hint`` an item id or free text in either
        language. The hint is searched within that category; if it names nothing there, the category's
        own rule is returned (the classifier's category is trusted over a vague hint). An unknown
        ``middle`` is ignored and the hint is searched everywhere.
        """
        scope = middle if middle is not None and (middle in self.middles or middle in self.majors) else None
        hint = (item_hint or "").strip()
        if hint in self.items and (scope is None or scope in self.ancestors(hint)):
            return self.items[hint]
        if hint and len(hint) <= MAX_QUERY_LENGTH:
            hits = self.search(hint, limit=1, within=scope)
            if hits and hits[0].score >= RESOLVE_MIN_SCORE:
                return hits[0].item
        if scope is None:
            return None
        if scope in self.middles:
            return self.middles[scope]
        only = [m for m in self.middles.values() if m.major == scope]
        return only[0] if len(only) == 1 else None

    # --- rules, with the item → middle → major fallback ------------------------------------------------

    def bin_for(self, target: Target) -> Text:
        major, middle = self.category_of(target)
        if isinstance(target, Item) and target.bin is not None:
            return target.bin
        return middle.bin or major.bin

    def steps_for(self, target: Target) -> list[Text]:
        """Preparation then the final disposal step."""
        major, middle = self.category_of(target)
        prepare = middle.prepare if middle.prepare is not None else major.prepare
        dispose = middle.dispose or major.dispose
        extra: tuple[Text, ...] = ()
        if isinstance(target, Item):
            prepare = target.prepare if target.prepare is not None else prepare
            extra = target.prepare_extra
            dispose = target.dispose or dispose
        return [*prepare, *extra, dispose]

    def notes_for(self, target: Target) -> list[Text]:
        _, middle = self.category_of(target)
        notes = [target.note] if isinstance(target, Item) else []
        return [n for n in (*notes, middle.note) if n is not None]

    def not_accepted_for(self, target: Target) -> list[NotAcceptedRule]:
        _, middle = self.category_of(target)
        own = target.not_accepted if isinstance(target, Item) else ()
        return [*own, *(rule for rule in middle.not_accepted if rule.to != target.id)]

    def situations_for(self, target: Target) -> list[Tag]:
        """The situations worth preparing for with this item (its own and its category's), in tag order."""
        _, middle = self.category_of(target)
        ids = set(middle.situations) | (set(target.situations) if isinstance(target, Item) else set())
        return sorted((self.tags[t] for t in ids), key=lambda tag: self._tag_order[tag.id])

    def sort_tags(self, tag_ids: set[str]) -> list[str]:
        """Known tags in catalogue order (deterministic answers whatever order the classifier used)."""
        return sorted((t for t in tag_ids if t in self.tags), key=self._tag_order.__getitem__)

    def _most_specific(self, keys: Mapping[str, object] | tuple[str, ...], target: Target) -> str | None:
        return next((a for a in self.ancestors(target.id) if a in keys), None)

    def tag_applies(self, tag: Tag, target: Target) -> bool:
        return not tag.applies_to or self._most_specific(tag.applies_to, target) is not None

    def prep_for(self, tag: Tag, target: Target) -> Text:
        key = self._most_specific(tag.prep_for, target)
        return tag.prep_for[key] if key is not None else tag.prep

    def redirect_for(self, tag: Tag, target: Target) -> Target | None:
        """Where the thing goes instead when it is in this state, if elsewhere."""
        key = self._most_specific(tag.redirect, target)
        if key is None:
            return None
        destination = tag.redirect[key]
        return self.items.get(destination) or self.middles[destination]


def load_knowledge_base(data_dir: Path = DATA_DIR) -> KnowledgeBase:
    """Read and validate the data files (uncached; raises :class:`KnowledgeBaseError`)."""
    return KnowledgeBase(load_catalogue(data_dir))


@lru_cache(maxsize=1)
def get_knowledge_base() -> KnowledgeBase:
    """The shipped knowledge base, loaded and validated on first use, then shared."""
    return load_knowledge_base()
