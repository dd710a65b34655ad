"""Property: the indexed nearest-first search of each backend equals a brute-force great-circle ranking.

Two checks: synthetic points with and without a radius (haversine, as the product computes it), and the
real bundled points against query points anywhere in Korea, islands and countryside included, ranked by a
separately written great-circle distance (angle between unit vectors, numpy) and never by the product's code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from ecoeco.db.engine import Database
from ecoeco.locations import bundled
from ecoeco.locations import index as locations_index
from ecoeco.locations import repository as locations_repository
from ecoeco.locations import service as locations_service
from ecoeco.locations.categories import Category
from ecoeco.locations.geo import haversine_m
from ecoeco.locations.importer import SourceFormat
from ecoeco.locations.models import Kind, Location
from ecoeco.settings import Settings
from tests.support.places import REMOTE

CATS = [Category.CLEAR_PET, Category.BATTERY, Category.PAPER]
TIE_M = 1.0  # rows closer than this in distance may come in either order
CENTER = (37.55, 126.98)


@dataclass(frozen=True)
class Case:
    points: list[tuple[float, float, frozenset[Category]]]
    lat: float
    lon: float
    radius_m: float | None
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
    # Sometimes far off, across "open sea" from every point.
    far = st.tuples(st.floats(CENTER[0] - 2, CENTER[0] + 2), st.floats(CENTER[1] - 2, CENTER[1] + 2))
    lat, lon = draw(coord | far)
    return Case(
        points=[(la, lo, c) for (la, lo), c in points + dupes],
        lat=lat,
        lon=lon,
        radius_m=draw(st.none() | st.floats(50, 30_000)),
        limit=draw(st.integers(1, 12)),
        wanted=draw(st.frozensets(st.sampled_from(CATS), max_size=2)),
    )


async def _check(db: Database, case: Case) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(delete(Location))
    csv = "id,name,lat,lon,categories\n" + "".join(
        f"{i},p{i},{la!r},{lo!r},{';'.join(sorted(c))}\n" for i, (la, lo, c) in enumerate(case.points)
    )
    await locations_service.import_file(db, csv.encode(), "prop.csv", SourceFormat.SIMPLE)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT source_id, id FROM locations"))).all()
        ids: dict[str, int] = {r.source_id: r.id for r in rows}
        # Walk every page through the cursor, as a client would.
        got: list[tuple[int, float]] = []
        after = None
        while True:
            query = locations_repository.NearQuery(
                case.lat, case.lon, case.radius_m, case.limit, mask=_mask(case.wanted), after=after
            )
            page = await db.read(partial(locations_repository.nearest, q=query))
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
    radius = float("inf") if case.radius_m is None else case.radius_m
    # A row within a millimetre of the radius may fall either side of it on either engine.
    edge = {i for d, i in brute if abs(d - radius) < 1e-3}
    expected = [(i, d) for d, i in brute if d <= radius and i not in edge]
    got = [(i, d) for i, d in got if i not in edge]
    assert len({i for i, _ in got}) == len(got), "a row came twice across pages"
    assert [i for i, _ in got] == [i for i, _ in expected] or all(
        a == b or abs(da - db) < TIE_M for (a, da), (b, db) in zip(got, expected, strict=True)
    ), (got, expected)
    for (_, d_got), (_, d_expected) in zip(got, expected, strict=True):
        assert d_got == pytest.approx(d_expected, abs=0.01)


def _mask(cats: frozenset[Category]) -> int:
    return locations_service.category_mask([c.value for c in cats])


def _on_new_database(settings: Settings, check: Callable[[Database], Awaitable[None]]) -> None:
    """One Hypothesis example: its own event loop and engine (Hypothesis calls the test synchronously)."""

    async def run() -> None:
        db = Database(settings.database_dsn)
        try:
            await check(db)
        finally:
            await db.dispose()

    asyncio.run(run())


@pytest.mark.slow
def test_nearest_equals_brute_force_haversine(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tiny thresholds, so that a few dozen points take every path: SQLite narrowing a box that holds too
    # many rows by counting, PostgreSQL finding a reach longer than it assumed and asking again.
    monkeypatch.setattr(locations_repository, "_SQLITE_MAX_READ", 4)
    monkeypatch.setattr(locations_repository, "_PG_USUAL_REACH_M", 300.0)

    @hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases())
    def check(case: Case) -> None:
        _on_new_database(settings, lambda db: _check(db, case))

    check()


# --- the real bundled points, however far --------------------------------------------------------

KINDS = [None, Kind.RECYCLING_COMPENSATION, Kind.ZERO_WASTE_SHOP, Kind.REVERSE_VENDING]
EARTH_M = 6_371_008.8


def great_circle_m(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Angle between unit vectors (atan2 of cross and dot product): a second formula, not haversine."""

    def unit(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        la, lo = np.radians(la), np.radians(lo)
        return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)

    q = unit(np.array(lat), np.array(lon))
    p = unit(lats, lons)
    angle: np.ndarray = np.arctan2(np.linalg.norm(np.cross(p, q), axis=-1), p @ q)
    return EARTH_M * angle


@dataclass(frozen=True)
class Query:
    lat: float
    lon: float
    limit: int
    category: Category | None
    kind: Kind | None


queries = st.builds(
    Query,
    lat=st.floats(33.0, 38.7),
    lon=st.floats(124.5, 132.0),
    limit=st.integers(1, 20),
    category=st.none() | st.sampled_from([Category.BATTERY, Category.PAPER_PACK, Category.CLEAR_PET]),
    kind=st.sampled_from(KINDS),
) | st.builds(
    Query,
    lat=st.sampled_from(REMOTE).map(lambda p: p[0]),
    lon=st.just(0.0),
    limit=st.integers(1, 20),
    category=st.none() | st.just(Category.BATTERY),
    kind=st.sampled_from(KINDS),
).map(lambda q: Query(q.lat, dict(REMOTE)[q.lat], q.limit, q.category, q.kind))


async def _check_real(db: Database, q: Query, table: dict[str, np.ndarray]) -> None:
    wanted = np.ones(len(table["id"]), dtype=bool)
    if q.category is not None:
        bit = locations_service.category_mask([q.category.value])
        wanted &= (table["mask"] & bit) == bit
    if q.kind is not None:
        wanted &= table["kind"] == q.kind.value
    d = great_circle_m(q.lat, q.lon, table["lat"][wanted], table["lon"][wanted])
    ids = table["id"][wanted]
    order = np.lexsort((ids, d))
    expected = [(int(ids[i]), float(d[i])) for i in order[: 2 * q.limit]]
    params = locations_service.NearbyParams(
        lat=q.lat,
        lon=q.lon,
        limit=q.limit,
        categories=[q.category.value] if q.category else [],
        kind=q.kind,
    )
    now = datetime.now(UTC)
    first = json.loads((await locations_service.nearby(db, params, now)).json())
    got = [(i["id"], i["distance_m"]) for i in first["items"]]
    if first["next_cursor"]:
        more = locations_service.NearbyParams(**{**vars(params), "cursor": first["next_cursor"]})
        second = json.loads((await locations_service.nearby(db, more, now)).json())
        got += [(i["id"], i["distance_m"]) for i in second["items"]]
        assert second["nearest_m"] == first["nearest_m"]
    assert len(got) == len(expected), (q, got, expected)
    assert first["nearest_m"] == (round(expected[0][1], 2) if expected else None)
    for (gid, gd), (eid, ed) in zip(got, expected, strict=True):
        assert gd is not None
        assert gd == pytest.approx(ed, abs=0.02), (q, got, expected)
        # Points at one spot (two machines at a site) tie; their order is by id on both sides.
        assert gid == eid or abs(gd - ed) < TIE_M, (q, got, expected)


@pytest.mark.slow
def test_nearest_however_far_over_the_bundled_points(settings: Settings) -> None:
    async def load() -> dict[str, np.ndarray]:
        db = Database(settings.database_dsn)
        try:
            await bundled.load(db)
            async with db.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT id, lat, lon, category_mask, kind FROM locations WHERE closed_at IS NULL"
                        )
                    )
                ).all()
        finally:
            await db.dispose()
        columns = list(zip(*rows, strict=True))
        return {
            "id": np.array(columns[0]),
            "lat": np.array(columns[1], dtype=float),
            "lon": np.array(columns[2], dtype=float),
            "mask": np.array(columns[3]),
            "kind": np.array(columns[4]),
        }

    table = asyncio.run(load())
    assert len(table["id"]) == 746  # 395 KECO sites + 351 zero-waste shops

    @hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(q=queries)
    @example(q=Query(*REMOTE[0], limit=3, category=Category.BATTERY, kind=None))
    @example(q=Query(*REMOTE[1], limit=20, category=None, kind=Kind.ZERO_WASTE_SHOP))
    def check(q: Query) -> None:
        async def run() -> None:
            db = Database(settings.database_dsn)
            try:
                await _check_real(db, q, table)
            finally:
                await db.dispose()

        asyncio.run(run())

    check()


# --- the in-process index against the database's search -----------------------------------------

SCHEDULES = ["매일 00:00~24:00", "매일 휴무", "", "월~금 09:00~18:00", "토,일 10:00~16:00"]
SUMMARY = locations_repository.SUMMARY_COLUMNS.split(", ")
POINT_KINDS = [Kind.RECYCLING_COMPENSATION, Kind.ZERO_WASTE_SHOP, Kind.DROP_BOX]


@dataclass(frozen=True)
class IndexCase:
    case: Case
    kinds: list[Kind]
    hours: list[str]
    closed: list[bool]  # left out of the second import: closed
    kind: Kind | None
    open_now: bool
    now: datetime


@st.composite
def index_cases(draw: st.DrawFn) -> IndexCase:
    case = draw(cases())
    n = len(case.points)
    return IndexCase(
        case=case,
        kinds=draw(st.lists(st.sampled_from(POINT_KINDS), min_size=n, max_size=n)),
        hours=draw(st.lists(st.sampled_from(SCHEDULES), min_size=n, max_size=n)),
        closed=[False, *draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))],
        kind=draw(st.none() | st.sampled_from(POINT_KINDS)),
        open_now=draw(st.booleans()),
        now=draw(st.datetimes(datetime(2027, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))),
    )


def _csv(c: IndexCase, *, without_closed: bool) -> bytes:
    rows = "".join(
        f"{i},p{i},{la!r},{lo!r},{';'.join(sorted(cats))},{c.kinds[i].value},{c.hours[i]}\n"
        for i, (la, lo, cats) in enumerate(c.case.points)
        if not (without_closed and c.closed[i])
    )
    return ("id,name,lat,lon,categories,kind,hours\n" + rows).encode()


async def _nearby_json(
    db: Database, params: locations_service.NearbyParams, now: datetime, ceiling: int
) -> bytes:
    # The service takes the index below the ceiling and the database's search above it.
    locations_index.CEILING = ceiling
    locations_index.changed(db)
    return (await locations_service.nearby(db, params, now)).json()


async def _check_index(db: Database, c: IndexCase) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(delete(Location))
    await locations_service.import_file(db, _csv(c, without_closed=False), "prop.csv", SourceFormat.SIMPLE)
    await locations_service.import_file(db, _csv(c, without_closed=True), "prop.csv", SourceFormat.SIMPLE)
    case = c.case
    # The repository's answer, exact distances and all, page after page through the (distance, id) cursor.
    index = locations_index.PointIndex(await db.read(locations_repository.open_points))
    after = None
    for _ in range(20):
        q = locations_repository.NearQuery(
            case.lat,
            case.lon,
            case.radius_m,
            case.limit,
            mask=_mask(case.wanted),
            kind=None if c.kind is None else c.kind.value,
            after=after,
        )
        from_db = await db.read(partial(locations_repository.nearest, q=q))
        # PostgreSQL's rows carry one more column (the reach of its index walk).
        assert [(f.row, f.distance_m) for f in index.nearest(q)] == [
            (f.row[: len(SUMMARY)], f.distance_m) for f in from_db
        ]
        if len(from_db) <= case.limit:
            break
        after = (from_db[case.limit - 1].distance_m, from_db[case.limit - 1].row.id)
    # The service's answer, byte for byte: open now, the nearest distance, the cursors.
    params = locations_service.NearbyParams(
        lat=case.lat,
        lon=case.lon,
        radius_m=case.radius_m,
        limit=case.limit,
        categories=[x.value for x in case.wanted],
        kind=c.kind,
        open_now=c.open_now,
    )
    for _ in range(20):
        from_index = await _nearby_json(db, params, c.now, 1_000_000)
        assert from_index == await _nearby_json(db, params, c.now, -1)
        cursor = json.loads(from_index)["next_cursor"]
        if cursor is None:
            break
        params = locations_service.NearbyParams(**{**vars(params), "cursor": cursor})


@pytest.mark.slow
def test_the_index_answers_as_the_database_does(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # As above: the database's search takes every path on a few dozen points.
    monkeypatch.setattr(locations_repository, "_SQLITE_MAX_READ", 4)
    monkeypatch.setattr(locations_repository, "_PG_USUAL_REACH_M", 300.0)
    monkeypatch.setattr(locations_index, "CEILING", locations_index.CEILING)  # restored afterwards

    @hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(c=index_cases())
    def check(c: IndexCase) -> None:
        _on_new_database(settings, lambda db: _check_index(db, c))

    check()
