"""Rows whose name column holds the address are detected and untangled; real names are left alone."""

from __future__ import annotations

import pytest

from ecoeco.locations.importer import SourceFormat, parse_file
from ecoeco.locations.projection import Projection
from ecoeco.locations.text import Untangled, is_address, untangle
from tests.locations.conftest import ZERO_WASTE, ZERO_WASTE_COLUMNS


@pytest.mark.parametrize(
    ("name", "address", "note", "fixed"),
    [
        # A saved *address*: road address as the name, lot address as the address, the shop in the note.
        (
            "경남 거제시 옥포로23길 5",
            "옥포동 518-8",
            "경남지역자활 리본 옥포점 매장",
            Untangled("경남지역자활 리본 옥포점 매장", "경남 거제시 옥포로23길 5", "옥포동 518-8"),
        ),
        # Name and address exchanged outright.
        ("서울 마포구 월드컵로 49", "알맹상점", "", Untangled("알맹상점", "서울 마포구 월드컵로 49", None)),
        # Both in the name, in the forms people type.
        (
            "틈새숲을(경북 경주시 진현로2길 39)",
            "진현동 651-32",
            "",
            Untangled("틈새숲을", "경북 경주시 진현로2길 39", "진현동 651-32"),
        ),
        (
            "강원 삼척시 청석로 83-19 용기상점",
            "교동 739-9",
            "삼척 최초 제로웨이스트 가게",
            Untangled("용기상점", "강원 삼척시 청석로 83-19", "교동 739-9"),
        ),
        (
            "리사이클링 마켓: 서울특별시 노원구 상계동 452-1",
            "",
            "",
            Untangled("리사이클링 마켓", "서울특별시 노원구 상계동 452-1", None),
        ),
        # Names that start like a place are names.
        ("서울우유 대리점", "서울 중구 세종대로 110", "", None),
        ("부산 리필스테이션", "부산 해운대구 해운대로 1", "", None),
        ("제주 담다 2호점", "제주특별자치도 제주시 인다11길 29", "", None),
        # The name is an address and nothing else names the place: left as it is.
        ("경남 거제시 옥포로23길 5", "옥포동 518-8", "", None),
        ("경남 거제시 옥포로23길 5", "옥포동 518-8", "경남 거제시 옥포로 1", None),
    ],
)
def test_untangle(name: str, address: str, note: str, fixed: Untangled | None) -> None:
    assert untangle(name, address, note) == fixed


def test_what_counts_as_an_address() -> None:
    for text in (
        "서울 강남구 자곡로 191",
        "경기 광명시 하안로288번길 12",
        "옥포동 518-8",
        "읍내리 214-1 외 1건",
    ):
        assert is_address(text), text
    for text in ("프릿지", "All바른샵 (동탄제로웨이스트숍) 리츠스퀘어 113호", "지구정거장", "B1,06호 해달별"):
        assert not is_address(text), text


def test_the_zero_waste_file_has_13_rows_to_untangle() -> None:
    parsed = parse_file(
        ZERO_WASTE.read_bytes(), SourceFormat.SIMPLE, columns=ZERO_WASTE_COLUMNS, xy=Projection.WCONGNAMUL
    )
    fixed = {r.source_id: r for r in parsed.records if r.fixed == "name-address-swapped"}
    assert len(fixed) == 13
    shop = fixed["N375241390"]
    assert (shop.name, shop.road_address, shop.lot_address) == (
        "지구정거장",
        "전북 고창군 고창읍 성산2길 22",
        "읍내리 214-1",
    )
    # What the source said is kept beside the fix.
    assert (shop.extra["published_name"], shop.extra["memo"]) == (
        "전북 고창군 고창읍 성산2길 22",
        "지구정거장",
    )
    # No row keeps an address for a name.
    assert not [r.name for r in parsed.records if untangle(r.name, r.road_address or "", "") is not None]
