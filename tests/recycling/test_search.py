"""Korean-aware search and the classifier-facing resolve()."""

from __future__ import annotations

import pytest

from ecoeco.recycling.knowledge import Item, KnowledgeBase, Middle
from ecoeco.recycling.search import MAX_QUERY_LENGTH, normalize, parse_query, strip_particle


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # PET bottles by their everyday names and in English.
        ("페트병", "water_bottle_pet"),
        ("생수병", "water_bottle_pet"),
        ("PET", "water_bottle_pet"),
        ("pet bottle", "water_bottle_pet"),
        ("스티로폼", "styrofoam_box"),
        ("아이스박스", "styrofoam_box"),
        # Spacing and particles.
        ("우유 팩", "milk_carton"),
        ("우유팩을", "milk_carton"),
        ("우유팩은 어떻게 버려요?", "milk_carton"),
        ("닭뼈는", "chicken_bone"),
        ("건전지 버리는 법", "alkaline_battery"),
        ("휴대폰을 버리고 싶어요", "mobile_phone"),
        ("깨진 유리병", "broken_glass"),
        ("투명 생수병", "water_bottle_pet"),
        # Synonyms, slang and common misspellings.
        ("뽁뽁이", "bubble_wrap"),
        ("패트병", "water_bottle_pet"),
        ("택배 상자", "corrugated_box"),
        ("음쓰", "leftover_food"),
        ("호치키스", "stapler"),
        # English, any case or width.
        ("water bottle", "water_bottle_pet"),
        ("Milk Carton", "milk_carton"),
        ("ＰＥＴ", "water_bottle_pet"),
        ("power bank", "power_bank"),
        ("TV", "television"),
        ("CD/DVD", "cd_dvd"),
        # One character is an exact match only.
        ("컵", "plastic_cup"),
        ("캔", "aluminum_can"),
    ],
)
def test_search_finds_the_item(kb: KnowledgeBase, query: str, expected: str) -> None:
    hits = kb.search(query)
    assert hits, query
    assert hits[0].id == expected, [(h.id, h.score) for h in hits[:3]]


def test_exact_name_scores_one_and_particles_barely_less(kb: KnowledgeBase) -> None:
    assert kb.search("우유팩")[0].score == 1.0
    assert 0.9 < kb.search("우유팩을")[0].score < 1.0


def test_latin_matches_start_at_a_word(kb: KnowledgeBase) -> None:
    ids = [hit.id for hit in kb.search("pet", limit=100)]
    assert "water_bottle_pet" in ids
    assert "carpet" not in ids


def test_category_name_lists_its_items_below_named_ones(kb: KnowledgeBase) -> None:
    hits = kb.search("비닐류", limit=100)
    assert {kb.items[h.id].middle for h in hits} == {"vinyl"}
    assert len(hits) == len(kb.items_in("vinyl"))


def test_within_limits_to_a_category(kb: KnowledgeBase) -> None:
    hits = kb.search("병", limit=50, within="glass_bottle")
    assert hits
    assert all(kb.items[h.id].middle == "glass_bottle" for h in hits)
    assert kb.search("우유팩", within="glass_bottle") == []


@pytest.mark.parametrize("query", ["", "   ", "?!", "어떻게 버려요", "을", "q", "가나다라마바사"])
def test_queries_that_name_nothing_find_nothing(kb: KnowledgeBase, query: str) -> None:
    assert kb.search(query) == []


def test_too_long_query_or_no_limit_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="longer than"):
        kb.search("가" * (MAX_QUERY_LENGTH + 1))
    with pytest.raises(ValueError, match="limit"):
        kb.search("페트병", limit=0)


def test_index_ranks_exactly_like_scoring_every_entry(kb: KnowledgeBase) -> None:
    queries = [item.name_ko for item in kb.items.values()]
    queries += [item.name_en for item in list(kb.items.values())[::5]]
    queries += ["우유 팩을", "투명 생수병 라벨", "pet", "컵", "일반쓰레기", "water bottle", "깨진 병"]
    for query in queries:
        parsed = parse_query(query)
        assert kb.index.search(parsed) == kb.index.search(parsed, brute_force=True), query


@pytest.mark.parametrize(
    ("word", "bare"),
    [("우유팩을", "우유팩"), ("페트병은", "페트병"), ("종이에서는", "종이"), ("을", "을"), ("컵", "컵")],
)
def test_strip_particle(word: str, bare: str) -> None:
    assert strip_particle(word) == bare


def test_normalize_folds_width_case_and_punctuation() -> None:
    assert normalize("  ＣＤ·DVD!  Box ") == "cd dvd box"


# --- resolve: the classifier's (middle, hint) → the most specific rule ---------------------------


def _id(target: Item | Middle | None) -> str | None:
    return target.id if target is not None else None


@pytest.mark.parametrize(
    ("middle", "hint", "expected"),
    [
        ("clear_pet", "water bottle", "water_bottle_pet"),
        ("clear_pet", "생수병", "water_bottle_pet"),
        ("clear_pet", None, "clear_pet"),
        # A hint that names nothing in the classifier's category: trust the category.
        ("plastic", "water bottle", "plastic"),
        ("clear_pet", "milk_carton", "clear_pet"),
        # An item id is taken as is when it fits the category.
        ("paper_pack", "milk_carton", "milk_carton"),
        (None, "milk carton", "milk_carton"),
        # An unknown category is ignored; the hint is searched everywhere.
        ("no_such_middle", "우유팩", "milk_carton"),
        # A major with a single middle resolves to it; with several, there is no single rule.
        ("food", None, "food_scraps"),
        ("general", None, None),
        ("general", "칫솔", "toothbrush"),
        (None, None, None),
        (None, "  ", None),
    ],
)
def test_resolve(kb: KnowledgeBase, middle: str | None, hint: str | None, expected: str | None) -> None:
    assert _id(kb.resolve(middle, hint)) == expected


def test_resolve_survives_an_overlong_hint(kb: KnowledgeBase) -> None:
    assert _id(kb.resolve("paper", "x" * 500)) == "paper"
