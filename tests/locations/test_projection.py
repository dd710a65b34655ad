"""Rows placed from projected x/y: the projection is checked on the file's own rows before it is used."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from ecoeco.locations import projection
from ecoeco.locations.geo import haversine_m
from ecoeco.locations.importer import SourceFormat, parse_file
from ecoeco.locations.models import CoordinateOrigin
from ecoeco.locations.projection import Projection
from tests.locations.conftest import ZERO_WASTE, ZERO_WASTE_COLUMNS

WCONG = Projection.WCONGNAMUL


def shops() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ZERO_WASTE.read_text(encoding="utf-8"))))


def as_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def both(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["lat"] and r["x"]]


def test_wcongnamul_matches_the_rows_that_carry_both() -> None:
    rows = both(shops())
    pairs = [((float(r["x"]), float(r["y"])), (float(r["lat"]), float(r["lon"]))) for r in rows]
    check = projection.check(WCONG, pairs)
    assert check.rows == 201
    # The x/y are integers in 0.4 m units, so a right projection lands within that rounding.
    assert check.max_m < 1.0, check.describe()
    assert check.p95_m <= check.max_m
    assert check.passed


def test_held_out_rows_are_recovered_to_within_the_check() -> None:
    """Hide the latitude/longitude of every other row that has both: the importer places those from x/y
    (checked on the rest only), and they land where the source says they are."""
    rows = shops()
    hidden = {r["key"]: (float(r["lat"]), float(r["lon"])) for r in both(rows)[::2]}
    for r in rows:
        if r["key"] in hidden:
            r["lat"] = r["lon"] = ""
    parsed = parse_file(as_csv(rows), SourceFormat.SIMPLE, columns=ZERO_WASTE_COLUMNS, xy=WCONG)
    assert parsed.projection is not None and parsed.projection.rows == 201 - len(hidden)
    recovered = {r.source_id: r for r in parsed.records if r.source_id in hidden}
    assert len(recovered) == len(hidden) == 101
    errors = [haversine_m(r.lat, r.lon, *hidden[sid]) for sid, r in recovered.items()]
    assert max(errors) < projection.MAX_ERROR_M
    assert {r.coordinates for r in recovered.values()} == {CoordinateOrigin.CONVERTED}


@pytest.mark.parametrize(
    ("shift", "why"),
    [
        # x/y off by 4 m on every row (a wrong false easting): close, but not within the bar.
        (lambda x, y: (x + 10, y), "max error"),
        # x and y exchanged: another place entirely.
        (lambda x, y: (y, x), "max error"),
    ],
)
def test_a_projection_that_does_not_match_places_nothing(shift, why: str) -> None:
    rows = shops()
    for r in rows:
        r["x"], r["y"] = (str(v) for v in shift(float(r["x"]), float(r["y"])))
    parsed = parse_file(as_csv(rows), SourceFormat.SIMPLE, columns=ZERO_WASTE_COLUMNS, xy=WCONG)
    assert parsed.projection is not None and not parsed.projection.passed
    assert Counter(r.reason for r in parsed.rejections) == {"unverified-projection": 150}
    assert why in parsed.rejections[0].detail
    assert {r.coordinates for r in parsed.records} == {CoordinateOrigin.PUBLISHED}


def test_too_few_rows_to_check_places_nothing() -> None:
    rows = shops()
    keep = both(rows)[: projection.MIN_CHECK_ROWS - 1] + [r for r in rows if not r["lat"]][:5]
    parsed = parse_file(as_csv(keep), SourceFormat.SIMPLE, columns=ZERO_WASTE_COLUMNS, xy=WCONG)
    assert parsed.projection is not None and parsed.projection.rows == projection.MIN_CHECK_ROWS - 1
    assert [r.reason for r in parsed.rejections] == ["unverified-projection"] * 5


def test_x_y_far_outside_korea_are_rejected_not_placed() -> None:
    rows = shops()
    lost = next(r for r in rows if not r["lat"])
    lost["x"], lost["y"] = "-9000000", "-9000000"
    broken = next(r for r in rows if not r["lat"] and r is not lost)
    broken["x"] = "12x"
    parsed = parse_file(as_csv(rows), SourceFormat.SIMPLE, columns=ZERO_WASTE_COLUMNS, xy=WCONG)
    reasons = {r.source_id: r.reason for r in parsed.rejections}
    assert reasons == {lost["key"]: "outside-korea", broken["key"]: "malformed-coordinates"}
    assert len(parsed.records) == 349
