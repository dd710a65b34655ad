"""The bounds the searches rely on: a point within a distance is inside the box / planar reach."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from ecoeco.locations.geo import bbox_around, haversine_m, looks_swapped, planar_cap, planar_reach_deg

lats = st.floats(-80, 80)
lons = st.floats(-170, 170)
# Offsets below a nanodegree (0.1 mm) are beneath any coordinate we store, and haversine underflows there.
offsets = st.floats(-1.5, 1.5).filter(lambda x: x == 0 or abs(x) > 1e-9)


@given(lats, lons, offsets, offsets)
def test_planar_reach_covers_every_point_that_close(lat: float, lon: float, dlat: float, dlon: float) -> None:
    lat2, lon2 = max(-89.0, min(89.0, lat + dlat)), lon + dlon
    distance = haversine_m(lat, lon, lat2, lon2)
    assert math.hypot(lat2 - lat, lon2 - lon) <= planar_reach_deg(lat, distance)


@given(lats, lons, offsets, offsets)
def test_box_around_contains_the_circle(lat: float, lon: float, dlat: float, dlon: float) -> None:
    lat2, lon2 = max(-89.0, min(89.0, lat + dlat)), lon + dlon
    assert bbox_around(lat, lon, haversine_m(lat, lon, lat2, lon2)).contains(lat2, lon2)


@given(lats, lons, st.floats(-6, 6), st.floats(-6, 6), st.floats(1, 3))
def test_planar_cap_holds_every_point_of_the_box_that_close(
    lat: float, lon: float, dlat: float, dlon: float, wider: float
) -> None:
    lat2, lon2 = max(-89.0, min(89.0, lat + dlat)), lon + dlon
    distance = haversine_m(lat, lon, lat2, lon2)
    # The search asks about a circle of some radius; any point within it must pass the ellipse test.
    radius = distance * wider
    c2, r2 = planar_cap(lat, bbox_around(lat, lon, radius), radius)
    assert (lat2 - lat) ** 2 + c2 * (lon2 - lon) ** 2 <= r2


def test_planar_cap_drops_the_corners_of_the_box() -> None:
    # 200 km from 독도: the box's corners are 280 km away, and the ellipse leaves them out.
    lat, lon, radius = 37.24, 131.87, 200_000
    box = bbox_around(lat, lon, radius)
    c2, r2 = planar_cap(lat, box, radius)
    assert (box.north - lat) ** 2 + c2 * (box.west - lon) ** 2 > r2
    assert (box.north - lat) ** 2 <= r2 and c2 * (box.west - lon) ** 2 <= r2


def test_planar_reach_is_tight_enough_to_be_useful() -> None:
    # At Seoul's latitude a 1 km circle needs about 1 km / cos(37.6°) of planar reach, not more.
    reach_km = planar_reach_deg(37.6, 1000) * math.pi / 180 * 6371.0088
    assert 1.0 / math.cos(math.radians(37.6)) <= reach_km < 1.0 / math.cos(math.radians(37.7))


def test_swapped_korean_point() -> None:
    assert looks_swapped(127.0, 37.5)
    assert not looks_swapped(37.5, 127.0)
    assert not looks_swapped(48.8, 2.3)  # Paris is simply not in Korea
