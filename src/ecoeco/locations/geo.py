"""Great-circle geometry shared by the API, the importer and both database searches.

Distances are on the sphere of the Earth's mean radius (the ellipsoid would differ by at most 0.5 %).
Both backends use their index only to find candidates and rank them with :func:`haversine_m`, so they
return the same distances and order, to the bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8

# South Korea with its islands (Marado 33.1°N, Baengnyeongdo 124.6°E, Dokdo 131.9°E, Goseong 38.6°N).
KOREA_LAT = (33.0, 38.7)
KOREA_LON = (124.5, 132.0)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def in_korea(lat: float, lon: float) -> bool:
    return KOREA_LAT[0] <= lat <= KOREA_LAT[1] and KOREA_LON[0] <= lon <= KOREA_LON[1]


def valid_lat_lon(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def looks_swapped(lat: float, lon: float) -> bool:
    """A Korean point given as (lon, lat): the two ranges do not overlap, so this is unambiguous."""
    return not in_korea(lat, lon) and in_korea(lon, lat)


@dataclass(frozen=True)
class BBox:
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


def bbox_around(lat: float, lon: float, radius_m: float) -> BBox:
    """The smallest lat/lon box containing the spherical cap of ``radius_m`` around the point."""
    angular = radius_m / EARTH_RADIUS_M
    # A hair of slack: a point exactly on the circle must not fall out of the box by a rounding.
    dlat = math.degrees(angular) * (1 + 1e-9) + 1e-12
    south, north = lat - dlat, lat + dlat
    if north >= 90 or south <= -90 or angular >= math.pi / 2:
        return BBox(max(south, -90.0), -180.0, min(north, 90.0), 180.0)
    # Longitude half-width of a cap on the sphere (not radius / cos(lat), which is too small).
    dlon = (
        math.degrees(math.asin(min(1.0, math.sin(angular) / math.cos(math.radians(lat))))) * (1 + 1e-9)
        + 1e-12
    )
    return BBox(south, max(lon - dlon, -180.0), north, min(lon + dlon, 180.0))


def planar_reach_deg(lat: float, distance_m: float) -> float:
    """A planar lon/lat distance (degrees) that every point within ``distance_m`` of ``lat`` is inside.

    With δ the planar distance in radians and c the cosine of the highest latitude either point can
    have (|lat| + the distance), haversine gives d ≥ R·c·δ·(1 − δ²/24); solving for δ, with margin.
    Not valid across the antimeridian (Korea is far from it).
    """
    angle = distance_m / EARTH_RADIUS_M
    c = math.cos(min(math.radians(abs(lat)) + angle, math.radians(89.9)))
    x = angle / c
    return math.degrees(x * (1 + x * x / 12)) * (1 + 1e-9) + 1e-12


def planar_cap(lat: float, box: BBox, distance_m: float) -> tuple[float, float]:
    """``(c2, r2)`` with Δlat² + c2·Δlon² ≤ r² (degrees) for every point of ``box`` within ``distance_m``.

    A lon/lat ellipse around the spherical cap, to drop a box's corners cheaply in SQL. With c the cosine of
    the highest latitude in the cap and x the larger of the cap's angle and the box's longitude half-width,
    haversine gives 4·hav(d) ≥ (1 − x²/12)·(Δφ² + c²Δλ²) and 4·hav(d) ≤ d²; solving for the ellipse, with
    a margin for the R*Tree's 32-bit coordinates. ``(0, inf)`` where the bound says nothing (half a world).
    """
    angle = distance_m / EARTH_RADIUS_M
    x = max(angle, math.radians(box.east - box.west) / 2)
    shrink = 1 - x * x / 12
    if angle >= math.pi / 2 or shrink < 0.5:
        return 0.0, math.inf
    c = math.cos(min(math.radians(abs(lat)) + angle, math.pi / 2))
    r = math.degrees(angle) / math.sqrt(shrink) * (1 + 1e-9) + 1e-5
    return c * c, r * r
