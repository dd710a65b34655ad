from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from ecoeco.locations.categories import Category
from ecoeco.locations.importer import (
    BadRowError,
    ImportFileError,
    SourceFormat,
    check_coordinates,
    parse_file,
)
from ecoeco.locations.models import CoordinateOrigin, Kind
from ecoeco.locations.projection import Projection
from tests.locations.conftest import KECO, ZERO_WASTE, ZERO_WASTE_COLUMNS

SIMPLE_HEADER = "name,address,lat,lon\n"


def simple(body: str, header: str = SIMPLE_HEADER) -> bytes:
    return (header + body).encode()


def test_keco_file_as_published() -> None:
    parsed = parse_file(KECO.read_bytes(), SourceFormat.KECO)
    assert (parsed.encoding, parsed.rows, len(parsed.records)) == ("utf-8", 409, 395)
    rejected = {(r.line, r.source_id): r.reason for r in parsed.rejections}
    # Every bad row of the published file, by the line it starts on.
    assert rejected == {
        (706, "47"): "outside-korea",  # latitude 5.157: a dropped leading 3
        (1457, "99"): "malformed-coordinates",  # "37.45255496043788?"
        (2638, "188"): "outside-korea",
        (2711, "204"): "missing-coordinates",
        (2714, "205"): "missing-coordinates",
        (2720, "207"): "missing-coordinates",
        (2723, "208"): "missing-coordinates",
        (2729, "210"): "missing-coordinates",
        (3016, "313"): "outside-korea",
        (3042, "326"): "missing-coordinates",
        (3086, "348"): "missing-coordinates",
        (3096, "353"): "missing-coordinates",
        (3126, "368"): "malformed-coordinates",  # longitude "127.7.23106"
        (3148, "379"): "missing-coordinates",
    }
    first = parsed.records[0]
    assert (first.source, first.source_id, first.name) == ("keco", "1", "고양동 종합복지회관")
    assert (first.lat, first.lon) == (37.7025454, 126.901133)
    assert first.categories == {Category.CLEAR_PET, Category.PLASTIC, Category.PAPER, Category.METAL}
    assert first.hours is not None
    assert [len(d or ()) for d in first.hours.week] == [0, 1, 0, 0, 0, 0, 0]  # Tuesdays 11-14 only
    assert first.hours.holiday == ()
    assert first.extra["prkMthdExpln"] == "주차불가"
    kinds = Counter(r.kind for r in parsed.records)
    assert set(kinds) == {Kind.RECYCLING_COMPENSATION, Kind.REVERSE_VENDING}
    # Every published hour text is understood: no site is left with unreadable hours.
    assert all(r.hours is not None and not r.hours.notes for r in parsed.records)


def test_zero_waste_shops_with_column_mapping() -> None:
    parsed = parse_file(
        ZERO_WASTE.read_bytes(),
        SourceFormat.SIMPLE,
        source="zerowaste",
        kind=Kind.ZERO_WASTE_SHOP,
        columns=ZERO_WASTE_COLUMNS,
        xy=Projection.WCONGNAMUL,
    )
    assert (parsed.rows, len(parsed.records), parsed.rejections) == (351, 351, [])
    origins = Counter(r.coordinates for r in parsed.records)
    assert origins == {CoordinateOrigin.PUBLISHED: 201, CoordinateOrigin.CONVERTED: 150}
    assert parsed.projection is not None and parsed.projection.rows == 201
    shop = next(r for r in parsed.records if r.source_id == "1317010384")
    assert (shop.name, shop.kind, shop.coordinates) == (
        "프릿지",
        Kind.ZERO_WASTE_SHOP,
        CoordinateOrigin.PUBLISHED,
    )
    assert (shop.lat, shop.lon) == (37.53138753, 127.1325739)  # published coordinates are kept as they are
    assert shop.road_address == "서울 강동구 성안로 90 1층 102호 (성내동)"
    assert shop.extra["favoriteType"] == "PLACE"
    assert sum(1 for r in parsed.records if r.fixed) == 13


def test_without_a_projection_rows_lacking_lat_lon_are_rejected() -> None:
    parsed = parse_file(ZERO_WASTE.read_bytes(), SourceFormat.SIMPLE, columns=ZERO_WASTE_COLUMNS)
    assert (parsed.rows, len(parsed.records)) == (351, 201)
    assert Counter(r.reason for r in parsed.rejections) == {"missing-coordinates": 150}
    assert parsed.projection is None


def test_cp949_reads_like_utf8() -> None:
    utf8 = parse_file(KECO.read_bytes(), SourceFormat.KECO)
    cp949 = parse_file(KECO.read_text(encoding="utf-8").encode("cp949"), SourceFormat.KECO)
    assert cp949.encoding == "cp949"
    assert [(r.source_id, r.name, r.hours) for r in cp949.records] == [
        (r.source_id, r.name, r.hours) for r in utf8.records
    ]


def test_broken_encoding_names_the_line() -> None:
    data = simple("가게,서울,37.5,127.0\n") + b"\xff\xfe\xfa,x,37.5,127.0\n"
    with pytest.raises(ImportFileError, match=r"^line 3: byte 0xff"):
        parse_file(data, SourceFormat.SIMPLE)


def test_duplicate_rows_are_reported_with_the_first_line() -> None:
    data = simple("가게,서울 마포구,37.5,127.0\n다른 가게,부산,35.1,129.0\n가게,서울 마포구,37.5,127.0\n")
    parsed = parse_file(data, SourceFormat.SIMPLE)
    assert len(parsed.records) == 2
    [dup] = parsed.rejections
    assert (dup.line, dup.reason) == (4, "duplicate-row")
    assert "line 2" in dup.detail


@pytest.mark.parametrize(
    ("lat", "lon", "reason"),
    [
        ("", "", "missing-coordinates"),
        ("127.0", "37.5", "swapped-coordinates"),
        ("35.6", "139.7", "outside-korea"),
        ("nan", "127", "malformed-coordinates"),
        ("37,5", "127", "malformed-coordinates"),
    ],
)
def test_bad_coordinates(lat: str, lon: str, reason: str) -> None:
    with pytest.raises(BadRowError) as err:
        check_coordinates(lat, lon)
    assert err.value.reason == reason


def test_short_rows_and_unknown_values_are_rejected_not_fatal() -> None:
    header = "name,lat,lon,kind,categories\n"
    body = (
        "가게,37.5\n"
        "상점,37.5,127.0,castle,\n"
        '리필,37.5,127.0,,"battery;pets"\n'
        "좋은 곳,37.5,127.0,drop_box,battery\n"
    )
    parsed = parse_file(simple(body, header), SourceFormat.SIMPLE)
    assert [(r.line, r.reason) for r in parsed.rejections] == [
        (2, "malformed-row"),
        (3, "unknown-kind"),
        (4, "unknown-category"),
    ]
    [ok] = parsed.records
    assert (ok.kind, ok.categories) == (Kind.DROP_BOX, {Category.BATTERY})


def test_file_level_errors() -> None:
    with pytest.raises(ImportFileError, match="missing column"):
        parse_file(simple("a,b,1,2\n", "name,address,x,y\n"), SourceFormat.SIMPLE)
    with pytest.raises(ImportFileError, match=r"not the KECO .* positnSn"):
        parse_file(ZERO_WASTE.read_bytes(), SourceFormat.KECO)
    with pytest.raises(ImportFileError, match="empty"):
        parse_file(b"", SourceFormat.SIMPLE)
    with pytest.raises(ImportFileError, match=r"missing column\(s\): x \(wcongnamul x\)"):
        parse_file(simple("가게,서울,37.5,127\n"), SourceFormat.SIMPLE, xy=Projection.WCONGNAMUL)


def test_a_keco_file_with_another_column_set_is_refused() -> None:
    rows = list(csv.reader(io.StringIO(KECO.read_text(encoding="utf-8"), newline="")))

    def written(table: list[list[str]]) -> bytes:
        out = io.StringIO()
        csv.writer(out).writerows(table)
        return out.getvalue().encode()

    renamed = [[{"clctItemCn": "collectItems"}.get(c, c) for c in rows[0]], *rows[1:]]
    without = [[c for i, c in enumerate(r) if i != 5] for r in rows]  # positnPstnAddExpln
    for table, missing in ((renamed, "clctItemCn"), (without, "positnPstnAddExpln")):
        with pytest.raises(ImportFileError, match=rf"^not the KECO .*: missing column\(s\) {missing};"):
            parse_file(written(table), SourceFormat.KECO)
    # A column the agency adds later is kept as published, not fatal.
    added = parse_file(
        written([[*r, "x" if n else "newColumn"] for n, r in enumerate(rows)]), SourceFormat.KECO
    )
    assert len(added.records) == 395
    assert all(r.extra["newColumn"] == "x" for r in added.records)


def test_simple_csv_hours_and_korean_categories() -> None:
    body = '"수거함","서울 마포구",37.5,127.0,"평일 09:00~18:00, 토·일 휴무","폐건전지, 폐형광등"\n'
    parsed = parse_file(simple(body, "name,address,lat,lon,hours,categories\n"), SourceFormat.SIMPLE)
    [record] = parsed.records
    assert record.categories == {Category.BATTERY, Category.LAMP}
    assert record.hours is not None
    assert record.hours.week[0] is not None
    assert record.hours.week[6] == ()
