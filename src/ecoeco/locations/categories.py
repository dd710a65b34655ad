"""Accepted item categories of a collection point, as the knowledge base's category ids.

A location stores its categories as a bit mask so that "accepts clear PET and batteries" is one integer
test on both databases. :class:`Category` is that mask's bit table and nothing more: the ids are the
knowledge base's (checked on first use, so a renamed or missing one stops the service instead of
mislabelling places), and the order is the persisted one, so members may only ever be appended, never
reordered or removed (tests/locations pins it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache

from ecoeco.recycling import service as recycling


class Category(StrEnum):
    # The recyclable kinds of the knowledge base (its middles of the recyclable stream), in its order.
    PAPER = "paper"
    PAPER_PACK = "paper_pack"
    CLEAR_PET = "clear_pet"
    PLASTIC = "plastic"
    VINYL = "vinyl"
    STYROFOAM = "styrofoam"
    GLASS_BOTTLE = "glass_bottle"
    METAL = "metal"
    CLOTHING = "clothing"
    BATTERY = "battery"
    LAMP = "lamp"
    ELECTRONICS = "electronics"
    # Whole streams (its majors), for places that take all of one.
    FOOD = "food"
    HAZARDOUS = "hazardous"
    BULKY = "bulky"


BITS: dict[Category, int] = {c: 1 << i for i, c in enumerate(Category)}
VALID = tuple(c.value for c in Category)


@lru_cache(maxsize=1)
def _checked() -> dict[Category, int]:
    """:data:`BITS`, once the knowledge base confirmed every id (a bit for a category it does not have
    would label places wrongly)."""
    known = set(recycling.recyclable_kinds()) | set(recycling.streams())
    strays = sorted(c.value for c in Category if c.value not in known)
    if strays:
        raise LookupError(f"collection-point categories the knowledge base does not have: {strays}")
    return BITS


class UnknownCategoryError(ValueError):
    def __init__(self, unknown: list[str]) -> None:
        super().__init__(f"unknown categories: {', '.join(unknown)}")
        self.unknown = unknown


def to_mask(categories: Iterable[Category | str]) -> int:
    mask = 0
    unknown = []
    bits = _checked()
    for c in categories:
        try:
            mask |= bits[Category(c)]
        except ValueError:
            unknown.append(str(c))
    if unknown:
        raise UnknownCategoryError(unknown)
    return mask


@lru_cache(maxsize=1024)
def from_mask(mask: int) -> list[Category]:
    return [c for c, bit in _checked().items() if mask & bit]


# Keyword rules for the free text of public data sets ("(플라스틱류)\n무색페트병\nPET\n(캔류)\n알루미늄").
# Each item line is lower-cased with spaces removed and tested against every rule; the first rules win
# for the lines they claim so that "PE비닐" is film, not a plastic container, and "페트병" is not glass.
_RULES: tuple[tuple[Category, re.Pattern[str]], ...] = (
    (Category.CLEAR_PET, re.compile(r"(투명|무색)(페트|패트|pet)|투명페트명")),
    (Category.VINYL, re.compile(r"비닐|필름")),
    (Category.PAPER_PACK, re.compile(r"종이팩|우유팩|멸균팩|살균팩|두유팩")),
    (Category.STYROFOAM, re.compile(r"스티로폼|스티로폴|스티로품")),
    (Category.BATTERY, re.compile(r"건전지|전지|배터리")),
    (Category.LAMP, re.compile(r"형광등|폐램프|전구|led등")),
    (Category.ELECTRONICS, re.compile(r"가전|전자제품|휴대폰|핸드폰|폐전자|소형전자")),
    (
        Category.PLASTIC,
        re.compile(
            r"플라스틱|플리스틱|(유색|판|혼합)(페트|패트|pet)|(?<![a-z])(pet|pe|pp|ps|abs|others?)(?![a-z])"
            r"|즉석밥|햇반|장난감|완구|블럭|블록|빨대|페트"
        ),
    ),
    (Category.GLASS_BOTTLE, re.compile(r"유리|(?<![트])병")),
    (Category.METAL, re.compile(r"캔|알루미늄|고철|철|금속|공병뚜껑")),
    (Category.PAPER, re.compile(r"종이|신문|서적|책|박스|골판지|폐지")),
    (Category.CLOTHING, re.compile(r"의류|헌옷|옷|섬유|신발|가방")),
    (Category.FOOD, re.compile(r"음식물")),
    (Category.HAZARDOUS, re.compile(r"의약품|폐약")),
    (Category.BULKY, re.compile(r"대형폐기물|가구")),
)
# Tokens that only pair with another rule ("PE비닐": the PE is the film's resin, not a container).
_SHADOWED = {
    Category.CLEAR_PET: Category.PLASTIC,
    Category.VINYL: Category.PLASTIC,
    Category.PAPER_PACK: Category.PAPER,
}


def parse_categories(text: str) -> tuple[set[Category], list[str]]:
    """Categories named in free text, plus the item lines that matched nothing (kept for review)."""
    found: set[Category] = set()
    unmatched: list[str] = []
    for raw in _items(text):
        item = re.sub(r"\s+", "", raw).lower()
        if not item:
            continue
        hits = {cat for cat, rule in _RULES if rule.search(item)}
        for winner, loser in _SHADOWED.items():
            if winner in hits:
                hits.discard(loser)
        if hits:
            found |= hits
        else:
            unmatched.append(raw.strip())
    return found, unmatched


def _items(text: str) -> list[str]:
    """Split on new lines, and on commas or slashes outside parentheses ("종이팩(멸균,살균)" is one item)."""
    items: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "\n" or (depth <= 0 and ch in ",/·"):
            items.append("".join(current))
            current = []
            depth = 0  # an unclosed "(" must not swallow the following lines
        else:
            current.append(ch)
    items.append("".join(current))
    return items
