"""Projected x/y of Korean map services, to WGS84 latitude/longitude (pyproj).

Kakao Map's WCONGNAMUL coordinates are Korea 2000 / Central Belt (EPSG:5181: GRS80, transverse Mercator with
origin 38°N 127°E, false easting 200 000 m and northing 500 000 m) in units of 0.4 m, i.e. metres × 2.5.
That was identified on the zero-waste shop file, whose 201 rows with both x/y and latitude/longitude agree
to 0.53 m at most (p95 0.39 m): the integer x/y are rounded to 0.4 m. The Bessel-based systems of the older
Korean maps (EPSG:5174, EPSG:2097) miss by about 300 m there.

A file's x/y are trusted only after the same check on its own rows that carry both (:func:`check`): at least
:data:`MIN_CHECK_ROWS` of them, all within :data:`MAX_ERROR_M`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

from ecoeco.locations.geo import haversine_m

if TYPE_CHECKING:
    from pyproj import Transformer


class Projection(StrEnum):
    WCONGNAMUL = "wcongnamul"  # Kakao Map


# Projection → (its CRS, map units per metre).
_DEFINITIONS = {Projection.WCONGNAMUL: ("EPSG:5181", 2.5)}

MAX_ERROR_M = 2.0
MIN_CHECK_ROWS = 10


@dataclass(frozen=True)
class Check:
    """How far the converted x/y of the rows carrying both land from their published latitude/longitude."""

    rows: int
    max_m: float
    p95_m: float

    @property
    def passed(self) -> bool:
        return self.rows >= MIN_CHECK_ROWS and self.max_m < MAX_ERROR_M

    def describe(self) -> str:
        return f"{self.rows} rows with both: max error {self.max_m:.2f} m, p95 {self.p95_m:.2f} m"


@lru_cache(maxsize=len(_DEFINITIONS))
def _transformer(projection: Projection) -> Transformer:
    # Imported here: pyproj costs ~0.5 s to import, paid only by an import that has x/y to convert.
    from pyproj import Transformer

    crs, _ = _DEFINITIONS[projection]
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_wgs84(projection: Projection, xy: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """``(lat, lon)`` of each ``(x, y)`` in map units."""
    if not xy:
        return []
    scale = _DEFINITIONS[projection][1]
    lon, lat = _transformer(projection).transform([x / scale for x, _ in xy], [y / scale for _, y in xy])
    return list(zip(lat, lon, strict=True))


def check(projection: Projection, pairs: Sequence[tuple[tuple[float, float], tuple[float, float]]]) -> Check:
    """Errors in metres over ``((x, y), (lat, lon))`` pairs."""
    converted = to_wgs84(projection, [xy for xy, _ in pairs])
    errors = [haversine_m(*got, *want) for got, (_, want) in zip(converted, pairs, strict=True)]
    if not errors:
        return Check(0, float("nan"), float("nan"))
    p95 = statistics.quantiles(errors, n=20, method="inclusive")[-1] if len(errors) > 1 else errors[0]
    return Check(len(errors), max(errors), p95)
