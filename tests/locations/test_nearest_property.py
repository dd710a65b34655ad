"""Property: the indexed nearest-first search of each backend equals brute-force haversine."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from ecoeco.db.engine import Database
from ecoeco.locations import repository as locations_repository
from ecoeco.locations import service as locations_service
from ecoeco.locations.categories import Category
from ecoeco.locations.geo import haversine_m
from ecoeco.locations.importer import LocationRecord
from ecoeco.locations.models import Kind, Location
from ecoeco.settings import Settings

CATS = [Category.CLEAR_PET, Category.BATTERY, Category.PAPER]
TIE_M = 1.0  # rows closer than this in distance may come in either order
CENTER = (37.55, 126.98)


@dataclass(frozen=True)
class Case:
    points: list[tuple[float, float, frozenset[Category]]]
    lat: float
    lon: float
    radius_m: float
    limit: int
    wanted: frozenset[Category]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    coord = st.tuples(
        st.floats(CENTER[0] - 0.08, CENTER[0] + 0.08), st.floats(CENTER[1] - 0.1, CENTER[1] + 0.1)
    )
    cats = st.frozensets(st.sampled_from(CATS))
    points = draw(st.lists(st.tuples(coord, cats), min_size=1, max_size=60))
    # Several rows at one spot (two machines at one site) are common in the public data.
    dupes = draw(st.lists(st.sampled_from(points), max_size=8))
    lat, lon = draw(coord)
    return Case(
        points=[(la, lo, c) for (la, lo), c in points + dupes],
        lat=lat,
        lon=lon,
        radius_m=draw(st.floats(50, 30_000)),
        limit=draw(st.integers(1, 12)),
        wanted=draw(st.frozensets(st.sampled_from(CATS), max_size=2)),
    )


async def _check(db: Database, case: Case) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(delete(Location))
    records = [
        LocationRecord("prop", str(i), f"p{i}", la, lo, Kind.OTHER, set(c))
        for i, (la, lo, c) in enumerate(case.points)
    ]
    await locations_service.store(db, records)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT source_id, id FROM locations"))).all()
        ids: dict[str, int] = {r.source_id: r.id for r in rows}
        # Walk every page through the cursor, as a client would.
        got: list[tuple[int, float]] = []
        after = None
        while True:
            page = await locations_repository.nearest(
                conn,
                locations_repository.NearQuery(
                    case.lat, case.lon, case.radius_m, case.limit, mask=_mask(case.wanted), after=after
                ),
            )
            got += [(f.row.id, f.distance_m) for f in page[: case.limit]]
            if len(page) <= case.limit:
                break
            last = page[case.limit - 1]
            after = (last.distance_m, last.row.id)
    brute = sorted(
        (haversine_m(case.lat, case.lon, la, lo), ids[str(i)])
        for i, (la, lo, c) in enumerate(case.points)
        if case.wanted <= c
    )
    # A row within a millimetre of the radius may fall either side of it on either engine.
    edge = {i for d, i in brute if abs(d - case.radius_m) < 1e-3}
    expected = [(i, d) for d, i in brute if d <= case.radius_m and i not in edge]
    got = [(i, d) for i, d in got if i not in edge]
    assert len({i for i, _ in got}) == len(got), "a row came twice across pages"
    assert [i for i, _ in got] == [i for i, _ in expected] or all(
        a == b or abs(da - db) < TIE_M for (a, da), (b, db) in zip(got, expected, strict=True)
    ), (got, expected)
    for (_, d_got), (_, d_expected) in zip(got, expected, strict=True):
        assert d_got == pytest.approx(d_expected, abs=0.01)


def _mask(cats: frozenset[Category]) -> int:
    return locations_service.category_mask([c.value for c in cats])


@pytest.mark.slow
def test_nearest_equals_brute_force_haversine(settings: Settings) -> None:
    @hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases())
    def check(case: Case) -> None:
        async def run() -> None:
            db = Database(settings.database_dsn)
            try:
                await _check(db, case)
            finally:
                await db.dispose()

        asyncio.run(run())

    check()
