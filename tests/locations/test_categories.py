from __future__ import annotations

import pytest

from ecoeco.locations.categories import (
    VALID,
    Category,
    UnknownCategoryError,
    from_mask,
    parse_categories,
    to_mask,
)
from ecoeco.recycling import service as recycling


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("투명페트병\n캔", {Category.CLEAR_PET, Category.METAL}),
        # "PE비닐" is film; a colored PET bottle is a plastic, not clear PET.
        ("(비닐류)\nPE비닐", {Category.VINYL}),
        ("유색페트병\n판PET", {Category.PLASTIC}),
        ("소주병\n맥주병", {Category.GLASS_BOTTLE}),
        ("종이팩(멸균,살균)", {Category.PAPER_PACK}),
        ("서적\n신문지", {Category.PAPER}),
        ("(폐건전지 교환) 폐건전지 20개<->새건전지 2개", {Category.BATTERY}),
        ("(중고의류)\n의류 외(가방, 신발)", {Category.CLOTHING}),
        ("폐형광등", {Category.LAMP}),
        ("소형가전", {Category.ELECTRONICS}),
        ("스티로폼", {Category.STYROFOAM}),
        ("", set()),
    ],
)
def test_item_text_maps_to_knowledge_base_categories(text: str, expected: set[Category]) -> None:
    assert parse_categories(text)[0] == expected


def test_unmatched_items_are_kept_for_review() -> None:
    found, unmatched = parse_categories("투명페트병\n무엇인지 모를 것")
    assert found == {Category.CLEAR_PET}
    assert unmatched == ["무엇인지 모를 것"]


def test_the_bit_order_the_locations_index_relies_on_does_not_change() -> None:
    # Masks are stored: bit i means the i-th id for as long as the data lives. New kinds go at the end.
    assert list(VALID) == [
        "paper", "paper_pack", "clear_pet", "plastic", "vinyl", "styrofoam", "glass_bottle", "metal",
        "clothing", "battery", "lamp", "electronics", "food", "hazardous", "bulky",
    ]  # fmt: skip
    assert (to_mask(["paper"]), to_mask(["electronics"]), to_mask(["bulky"])) == (1, 1 << 11, 1 << 14)


def test_the_ids_are_the_knowledge_base_s() -> None:
    # Every recyclable kind in the knowledge base's order, then whole streams it has.
    kinds = recycling.recyclable_kinds()
    assert VALID[: len(kinds)] == kinds
    assert set(VALID[len(kinds) :]) <= set(recycling.streams())


def test_mask_round_trip_and_unknown_slug() -> None:
    assert from_mask(to_mask(["battery", "clear_pet"])) == [Category.CLEAR_PET, Category.BATTERY]
    assert set(VALID) >= {"paper", "paper_pack", "clear_pet", "metal", "electronics", "food", "bulky"}
    with pytest.raises(UnknownCategoryError) as err:
        to_mask(["battery", "pets"])
    assert err.value.unknown == ["pets"]
