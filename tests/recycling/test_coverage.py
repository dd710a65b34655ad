"""The knowledge base covers what the product promises, and every item of the original project's
taxonomy (its item names, MIT-licensed, in data/upstream_item_classes.yaml) finds a rule in the category
that taxonomy expects."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ecoeco.recycling.knowledge import KnowledgeBase

UPSTREAM_ITEMS = Path(__file__).with_name("data") / "upstream_item_classes.yaml"

# The reference's Korean category names, as our ids.
REFERENCE_CATEGORY = {
    "종이": "paper", "종이팩": "paper_pack", "무색페트병": "clear_pet", "플라스틱류": "plastic",
    "비닐류": "vinyl", "발포합성수지": "styrofoam", "유리병": "glass_bottle", "금속류": "metal",
    "의류및원단": "clothing", "전지": "battery", "조명제품": "lamp", "전기전자제품": "electronics",
    "일반종량제폐기물": "general", "불연성종량제폐기물": "non_combustible", "음식물류폐기물": "food",
    "공사장생활폐기물": "construction", "대형폐기물": "bulky",
}  # fmt: skip

# Where we deliberately file something elsewhere than the reference list does, and why.
OUR_CATEGORY = {
    # Listed under food as "배출불가" (not accepted): they go in the general-waste bag.
    "뼈": "general",
    "씨": "general",
    "조개껍데기": "general",
    # Large appliances are picked up free as electronics; no bulky-waste sticker is needed.
    "대형가전": "electronics",
    # Boots fit in a bag; the reference allows either bag or bulky waste.
    "가죽부츠": "general",
    "장화": "general",
}


def test_counts_meet_the_brief(kb: KnowledgeBase) -> None:
    assert set(kb.majors) >= {
        "recyclable", "general", "non_combustible", "food", "construction", "bulky", "hazardous",
    }  # fmt: skip
    assert {m.id for m in kb.middles.values() if m.major == "recyclable"} >= {
        "paper", "paper_pack", "clear_pet", "plastic", "vinyl", "styrofoam",
        "glass_bottle", "metal", "clothing", "battery", "lamp", "electronics",
    }  # fmt: skip
    assert len(kb.items) >= 150
    assert len(kb.tags) >= 60
    assert sum(len(item.synonyms) for item in kb.items.values()) >= 2 * len(kb.items)
    # Every category has its own items, not just the recyclables.
    assert {kb.middles[item.middle].major for item in kb.items.values()} == set(kb.majors)


def test_every_item_has_both_names_and_a_synonym(kb: KnowledgeBase) -> None:
    bare = [item.id for item in kb.items.values() if not item.synonyms]
    assert bare == []


def _reference_items() -> list[tuple[str, str]]:
    taxonomy = yaml.safe_load(UPSTREAM_ITEMS.read_text(encoding="utf-8"))
    pairs = []
    for group, names in taxonomy["categories"].items():
        for name in names:
            # "베게(작은 크기)", "뼈(배출불가)", "가위 (날카로운 고철)": the qualifier is not the item.
            bare = re.sub(r"\s*\([^)]*\)\s*$", "", name)
            pairs.append((bare, OUR_CATEGORY.get(bare, REFERENCE_CATEGORY[group])))
    assert len(pairs) > 150, "the upstream taxonomy lists 167 item names"
    return pairs


def test_reference_taxonomy_is_covered(kb: KnowledgeBase) -> None:
    missing = []
    for name, category in _reference_items():
        hits = kb.search(name, limit=5)
        if not any(category in kb.ancestors(hit.id) for hit in hits):
            missing.append((name, category, [hit.id for hit in hits]))
    assert missing == []
