"""All SQL of the locations domain.

Reads use SQLAlchemy Core on a plain connection: the search endpoints are the hottest public path and
an ORM session per request costs more than the query itself. They are synchronous functions, run whole by
:meth:`ecoeco.db.engine.Database.read` (one thread hop per request on SQLite, not one per cursor call).

Nearest-first on PostgreSQL is a KNN walk of a GiST index (``geom <-> point``) followed by an exact
refinement; on SQLite an R*Tree box query that widens until it provably holds the nearest rows. Both
rank candidates with the same haversine (``ecoeco.locations.geo``) and break ties by id, so pages are
stable and both backends return the same order. Without a radius ("the nearest, however far") both stay
index-driven: PostgreSQL bounds the answer with one more KNN walk, SQLite keeps widening its box.

Closed points (``closed_at`` set) are in no list or search; only :func:`get` returns them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Row, TextClause, bindparam, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoeco.core.clock import utcnow
from ecoeco.db.sql import insert
from ecoeco.locations.geo import EARTH_RADIUS_M, BBox, bbox_around, haversine_m, planar_cap, planar_reach_deg
from ecoeco.locations.models import Location, LocationImport

_SUMMARY = ("id", "name", "kind", "road_address", "lot_address", "lat", "lon", "coordinates", "category_mask")
# Hours as text: few distinct schedules, so the service decodes each once (lru_cache) instead of
# asyncpg decoding the JSON of every row of every response.
SUMMARY_COLUMNS = ", ".join(_SUMMARY) + ", CAST(hours AS TEXT) AS hours"
_PREFIXED = ", ".join("l." + c for c in _SUMMARY) + ", CAST(l.hours AS TEXT) AS hours"
# Widening steps of the SQLite search: most queries in a city finish on the first box.
_FIRST_RADIUS_M = 250.0
_GROWTH = 4.0


class _TypicalReach:
    """Where this process' recent searches ended (a running geometric mean): the next one starts a step
    inside it. With a few hundred points over the whole country a search from 250 m took five counting
    steps to reach the ~40 km that hold ten points; in a dense city it stays near 250 m. Only where a
    search starts depends on it, never what it returns. Shared by the reader threads without a lock:
    a lost update only makes one search start less well."""

    def __init__(self) -> None:
        self.metres = _FIRST_RADIUS_M

    def start(self) -> float:
        return max(_FIRST_RADIUS_M, self.metres / _GROWTH)

    def ended_at(self, metres: float) -> None:
        self.metres = self.metres**0.75 * max(metres, _FIRST_RADIUS_M) ** 0.25


_typical = _TypicalReach()
# No two points on Earth are farther apart: the radius of "however far".
EVERYWHERE_M = math.pi * EARTH_RADIUS_M


def _slack(distance_m: float) -> float:
    """Margin for PostGIS vs Python distances: their sphere radii differ by 5e-9, plus float rounding."""
    return 0.001 + distance_m * 1e-7


@lru_cache(maxsize=256)
def _sql(statement: str) -> TextClause:
    """Parsed once per statement shape: text() parses bind names with a regex on every call."""
    return text(statement)


@dataclass(frozen=True)
class NearQuery:
    lat: float
    lon: float
    radius_m: float | None  # None: the nearest rows however far
    limit: int  # rows wanted; the repository returns up to limit + 1 so callers can tell "more"
    mask: int = 0  # rows must accept every category bit set here
    kind: str | None = None
    after: tuple[float, int] | None = None  # (distance, id) of the last row already returned


class Found(NamedTuple):
    # A tuple: made ten times per search, and a frozen dataclass is three times slower to make.
    row: Row[Any]
    distance_m: float


def _filters(mask: int, kind: str | None, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The conditions every list and search applies, ANDed: open points of the wanted categories and kind."""
    sql = f"{prefix}closed_at IS NULL"
    # ">=" means "=" here (x & m <= m), but PostgreSQL guesses a third of the rows pass it instead of
    # 0.5 %, so it keeps walking the spatial index rather than sorting a whole radius.
    if mask:
        sql += f" AND ({prefix}category_mask & :mask) >= :mask"
    if kind:
        sql += f" AND {prefix}kind = :kind"
    return sql, {"mask": mask, "kind": kind}


# --- nearest first ----------------------------------------------------------------------------


def nearest(conn: Connection, q: NearQuery) -> list[Found]:
    if conn.dialect.name == "postgresql":
        return _nearest_postgres(conn, q)
    return _nearest_sqlite(conn, q)


_PG_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_PG_BOX = "geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)"
_PG_DISTANCE = f"ST_Distance(geom::geography, {_PG_POINT}::geography, false)"


def _nearest_postgres(conn: Connection, q: NearQuery) -> list[Found]:
    """A KNN walk of the 2D index bounds the answer; one statement returns every row that close.

    A GiST index on ``geometry`` (lon/lat) is built sorted and answers a KNN walk reading ~20 pages;
    the ``geography`` index needs ~200, as it cannot be built sorted. The walk's order is by planar
    lon/lat distance, so it only yields a great-circle distance ("reach") that the wanted rows are
    within; the outer query reads every row that can be that close (``:k`` metres-to-degrees from
    :func:`planar_reach_deg`, which grows with the distance) and Python ranks them exactly.

    Without a radius the same statement assumes the reach is at most :data:`_PG_USUAL_REACH_M` (true
    anywhere in Korea); when it is not, :func:`_pg_reach` measures it first and the statement runs again.
    """
    if q.radius_m is not None:
        return _pg_knn(conn, q, q.radius_m, q.radius_m) or []
    found = _pg_knn(conn, q, EVERYWHERE_M, _PG_USUAL_REACH_M)
    if found is not None:
        return found
    reach = _pg_reach(conn, q)
    return [] if reach is None else _pg_knn(conn, q, reach, reach) or []


# The distance the degrees-per-metre factor of a no-radius search is computed for: it grows with the
# distance, so a larger one reads a few more rows; a reach beyond it takes a second statement.
_PG_USUAL_REACH_M = 500_000.0


def _pg_knn(conn: Connection, q: NearQuery, radius: float, k_at: float) -> list[Found] | None:
    """Rows within ``radius``; ``None`` when the reach turned out longer than ``k_at`` (ask again)."""
    where, params = _filters(q.mask, q.kind)
    extra, rest = f" AND {where}", ""
    if q.after is not None:
        # Slack for PostGIS vs Python rounding; the exact (distance, id) test is in _rank. Rows within
        # it do not count towards the reach, which can then only grow.
        extra += f" AND {_PG_DISTANCE} >= :after_low"
        rest = " AND d > :after_high"
        params |= {
            "after_low": q.after[0] - _slack(q.after[0]),
            "after_high": q.after[0] + _slack(q.after[0]),
        }
    want = q.limit + 1
    params |= (
        _box_params(bbox_around(q.lat, q.lon, radius))
        | {
            "lat": q.lat,
            "lon": q.lon,
            "radius": radius,
            "want": want,
            "walk": want + 8,  # a few more than wanted: the cursor's own row and box corners drop out
            # Degrees per metre of reach, taken at k_at: both grow with the distance, so they bound any reach
            # up to k_at. The circle bounds the rows, the box its north and south (a quarter fewer rows).
            "k": planar_reach_deg(q.lat, k_at) / k_at,
        }
        | _degrees_per_metre(q, k_at)
    )
    sql = (
        f"WITH walk AS (SELECT id, {_PG_DISTANCE} AS d FROM locations"  # noqa: S608 - constant fragments
        f" WHERE {_PG_BOX}{extra} ORDER BY geom <-> {_PG_POINT} LIMIT :walk),"
        " reach AS (SELECT COALESCE((SELECT d FROM walk WHERE d <= :radius"
        f"{rest} ORDER BY d, id OFFSET :want - 1 LIMIT 1), :radius) AS m)"
        f" SELECT {SUMMARY_COLUMNS}, reach.m AS reach_m FROM locations, reach"
        f" WHERE ST_DWithin(geom, {_PG_POINT}, :k * reach.m + 1e-9)"
        f" AND geom && ST_Expand({_PG_POINT}, :per_m_lon * reach.m + 1e-9, :per_m_lat * reach.m + 1e-9)"
        f"{extra}"
        # Only the rows that close leave the database (far out, the planar circle takes in a coast).
        f" AND {_PG_DISTANCE} <= reach.m * (1 + 1e-7) + {_slack(0)}"
    )
    rows = conn.execute(_sql(sql), params).all()
    if k_at < radius and (not rows or rows[0].reach_m > k_at):
        return None
    return rank(q, rows, radius)[:want]


def _degrees_per_metre(q: NearQuery, distance_m: float) -> dict[str, float]:
    box = bbox_around(q.lat, q.lon, distance_m)
    if box.west <= -180 or box.east >= 180 or box.south <= -90 or box.north >= 90:
        return {"per_m_lat": 360 / distance_m, "per_m_lon": 360 / distance_m}  # no useful box
    return {"per_m_lat": (box.north - q.lat) / distance_m, "per_m_lon": (box.east - q.lon) / distance_m}


def _pg_reach(conn: Connection, q: NearQuery) -> float | None:
    """A distance that ``q.limit + 1`` rows after the cursor are within, from a KNN walk of the index.

    The walk goes in planar lon/lat order, so the great-circle distance of its n-th row bounds the n-th
    nearest from above; the bounded search then finds and ranks every row that close. ``None``: no rows.
    """
    where, params = _filters(q.mask, q.kind)
    if q.after is not None:
        where += f" AND {_PG_DISTANCE} >= :after_low"
        params["after_low"] = q.after[0] - _slack(q.after[0])
    statement = _sql(
        f"SELECT {_PG_DISTANCE} AS d FROM locations WHERE {where}"  # noqa: S608 - constant fragments
        f" ORDER BY geom <-> {_PG_POINT} LIMIT :walk"
    )
    want = q.limit + 1
    walk = want + 8  # the cursor's own row and rows within the slack of it may drop out
    while True:
        found = conn.execute(statement, params | {"lat": q.lat, "lon": q.lon, "walk": walk}).scalars()
        distances: list[float] = list(found)
        after = sorted(d for d in distances if q.after is None or d > q.after[0] + _slack(q.after[0]))
        reach = after[want - 1] if len(after) >= want else max(distances, default=None)
        if len(after) >= want or len(distances) < walk:  # enough rows, or the walk read all there are
            return None if reach is None else reach + _slack(reach)
        walk *= 4


def rank(q: NearQuery, rows: Sequence[Row[Any]], within_m: float) -> list[Found]:
    """Rows within ``within_m`` and after the cursor, by exact distance then id."""
    return rank_points(q, ((r.id, r.lat, r.lon, r) for r in rows), within_m)


def rank_points(
    q: NearQuery, points: Iterable[tuple[int, float, float, Any]], within_m: float
) -> list[Found]:
    """:func:`rank` of ``(id, lat, lon, row)``: the in-process index keeps its points so (a Row's
    attributes are slow to read)."""
    keyed = []
    for id_, lat, lon, row in points:
        d = haversine_m(q.lat, q.lon, lat, lon)
        if d <= within_m and (q.after is None or (d, id_) > q.after):
            keyed.append((d, id_, row))
    keyed.sort(key=itemgetter(0, 1))  # (distance, id): ids are unique, rows never compared
    return [Found(row, d) for d, _, row in keyed]


# The box from the R*Tree, then the ellipse of geo.planar_cap: far from the query point a box's corners
# can take in a whole coast.
_SQLITE_NEAR = (
    "r.max_lat >= :south AND r.min_lat <= :north AND r.max_lon >= :west AND r.min_lon <= :east"
    " AND (r.min_lat - :lat) * (r.min_lat - :lat) + (r.min_lon - :lon) * (r.min_lon - :lon) * :c2 <= :r2"
)
SQLITE_CANDIDATES = (
    "SELECT l.id, l.lat, l.lon FROM locations_rtree r JOIN locations l ON l.id = r.id "  # noqa: S608
    f"WHERE {_SQLITE_NEAR} AND "
)
# Counting stops past :most: whether a box holds too many rows is all a step needs to know.
_SQLITE_IN_BOX = _sql(
    f"SELECT count(*) FROM (SELECT 1 FROM locations_rtree r WHERE {_SQLITE_NEAR} LIMIT :most + 1)"  # noqa: S608
)
# Rows one widening step reads at most, unless they sit at one spot: past a stretch of open sea the next
# box may take in a whole coast, which is narrowed down by counting (cheap) before rows are read.
_SQLITE_MAX_READ = 1_000


def _nearest_sqlite(conn: Connection, q: NearQuery) -> list[Found]:
    where, params = _filters(q.mask, q.kind, "l.")
    # Find the winners on (id, lat, lon) alone, then read only their full rows: in a dense city the
    # box holds hundreds of rows that lose.
    candidates = _sql(SQLITE_CANDIDATES + where)
    bound = EVERYWHERE_M if q.radius_m is None else q.radius_m
    want = q.limit + 1
    most = max(_SQLITE_MAX_READ, 4 * want)
    # low: a radius whose box holds fewer than `want` rows; high: one whose box holds more than `most`.
    low, high, read = 0.0, None, False
    radius = min(bound, max(_typical.start(), q.after[0] * 1.5 if q.after else 0.0))
    while True:
        bbox = bbox_around(q.lat, q.lon, radius)
        c2, r2 = planar_cap(q.lat, bbox, radius)
        box = _box_params(bbox) | {"lat": q.lat, "lon": q.lon, "c2": c2, "r2": r2}
        close_enough = max(1.0, radius / 1000)
        if not read:
            in_box = conn.execute(_SQLITE_IN_BOX, box | {"most": most}).scalar_one()
            if in_box < want and radius < bound:
                if high is not None and high - radius <= close_enough:
                    radius, read = high, True  # a crowd at one spot: read it
                else:
                    grown = radius * _GROWTH if high is None else (radius + high) / 2
                    low, radius = radius, min(bound, grown)
                continue
            if in_box > most and radius - low > close_enough:
                high, radius = radius, (low + radius) / 2
                continue
        ranked = rank(q, conn.execute(candidates, params | box).all(), bound)
        # Only rows inside the circle are certain to beat everything outside the box.
        found = [f for f in ranked if f.distance_m <= radius]
        if len(found) > q.limit or radius >= bound:
            break
        if len(ranked) >= want:
            # Enough rows in the box's corners: the circle through the `want`-th of them holds them all.
            radius, read = ranked[want - 1].distance_m, True
        else:
            # Too few rows of the wanted kind: counting all rows can no longer tell how far to go.
            radius, read = min(bound, radius * 2), True
    best = found[: q.limit + 1]
    if not best:
        return []
    if q.after is None and not q.mask and not q.kind:  # how dense the points are, not the filters
        _typical.ended_at(best[-1].distance_m)
    rows = {r.id: r for r in conn.execute(_BY_IDS, {"ids": [f.row.id for f in best]}).all()}
    return [Found(rows[f.row.id], f.distance_m) for f in best]


_BY_IDS = text(f"SELECT {SUMMARY_COLUMNS} FROM locations WHERE id IN :ids").bindparams(  # noqa: S608
    bindparam("ids", expanding=True)
)


def _box_params(box: BBox) -> dict[str, float]:
    return {"south": box.south, "north": box.north, "west": box.west, "east": box.east}


# --- the in-process index (ecoeco.locations.index) ---------------------------------------------


def open_points(conn: Connection) -> Sequence[Row[Any]]:
    """Every open point, as the nearest-first search returns them."""
    sql = f"SELECT {SUMMARY_COLUMNS} FROM locations WHERE closed_at IS NULL"  # noqa: S608 - constants only
    return conn.execute(_sql(sql)).all()


@dataclass(frozen=True)
class Stamp:
    """What moves whenever the points do; only ever compared for equality.

    Imports are the only writers. Inserts change the count; upserts and closes set ``updated_at`` (the
    importing process' clock); every import rewrites its ``location_imports`` row in the same transaction,
    and its ``imported_at`` differs from the one before even when that process' clock is behind ours.
    """

    rows: int
    open: int
    updated_at: Any
    imports: tuple[tuple[Any, ...], ...]


def stamp(conn: Connection) -> Stamp:
    table = conn.execute(
        _sql("SELECT count(*) AS n, count(closed_at) AS closed, max(updated_at) AS at FROM locations")
    ).one()
    imports = conn.execute(_sql("SELECT source, imported_at FROM location_imports ORDER BY source")).all()
    return Stamp(table.n, table.n - table.closed, table.at, tuple(tuple(r) for r in imports))


# --- map viewport -----------------------------------------------------------------------------


def in_bbox(
    conn: Connection, box: BBox, *, limit: int, mask: int, kind: str | None, after_id: int | None
) -> Sequence[Row[Any]]:
    where, params = _filters(mask, kind, "l.")
    extra = f" AND {where}"
    if after_id is not None:
        extra += " AND l.id > :after_id"
    params |= _box_params(box) | {"after_id": after_id, "n": limit + 1}
    exact = "l.lat BETWEEN :south AND :north AND l.lon BETWEEN :west AND :east"
    if conn.dialect.name == "postgresql":
        where = "l." + _PG_BOX
        sql = f"SELECT {_PREFIXED} FROM locations l WHERE {where} AND {exact}{extra} ORDER BY l.id LIMIT :n"  # noqa: S608
    else:
        # The R*Tree stores 32-bit floats rounded outwards: it narrows, the exact test decides.
        sql = (
            f"SELECT {_PREFIXED} FROM locations_rtree r JOIN locations l ON l.id = r.id "  # noqa: S608
            "WHERE r.max_lat >= :south AND r.min_lat <= :north AND r.max_lon >= :west "
            f"AND r.min_lon <= :east AND {exact}{extra} ORDER BY l.id LIMIT :n"
        )
    return conn.execute(_sql(sql), params).all()


# --- by id, by name ---------------------------------------------------------------------------


def get(conn: Connection, location_id: int) -> Row[Any] | None:
    return conn.execute(select(Location.__table__).where(Location.id == location_id)).first()


_RANK = "CASE WHEN search_name LIKE :prefix THEN 0 WHEN search_name LIKE :pattern THEN 1 ELSE 2 END"


def search(
    conn: Connection,
    key: str,
    *,
    initials: bool,
    limit: int,
    mask: int,
    kind: str | None,
    after: tuple[int, int] | None,
) -> list[tuple[Row[Any], int]]:
    """Rows whose name or address contains ``key``: name prefix first, then name, then address.

    ``key`` is a :func:`~ecoeco.locations.text.search_key`: letters and digits only, so it holds no
    LIKE wildcards to escape.
    """
    column = "search_initials" if initials else "search_text"
    rank = _RANK.replace("search_name", column) if initials else _RANK
    where, params = _filters(mask, kind)
    extra = f" AND {where}"
    if after is not None:
        extra += f" AND ({rank} > :after_rank OR ({rank} = :after_rank AND id > :after_id))"
        params |= {"after_rank": after[0], "after_id": after[1]}
    sql = (
        f"SELECT {SUMMARY_COLUMNS}, {rank} AS rank FROM locations "  # noqa: S608 - constants only
        f"WHERE {column} LIKE :pattern{extra} ORDER BY rank, id LIMIT :n"
    )
    params |= {"pattern": f"%{key}%", "prefix": f"{key}%", "n": limit + 1}
    rows = conn.execute(_sql(sql), params).all()
    return [(r, r.rank) for r in rows]


# --- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    id: int
    name: str
    closed: bool


async def source_rows(conn: AsyncConnection, source: str) -> dict[str, Known]:
    """Every row of a source, open or closed, by source id."""
    rows = await conn.execute(
        select(Location.source_id, Location.id, Location.name, Location.closed_at).where(
            Location.source == source
        )
    )
    return {r.source_id: Known(r.id, r.name, r.closed_at is not None) for r in rows}


async def close(conn: AsyncConnection, ids: Sequence[int], when: datetime) -> None:
    for start in range(0, len(ids), 500):
        await conn.execute(
            update(Location)
            .where(Location.id.in_(ids[start : start + 500]))
            .values(closed_at=when, updated_at=when)
        )


async def last_import(conn: AsyncConnection, source: str) -> Row[Any] | None:
    return (
        await conn.execute(select(LocationImport.__table__).where(LocationImport.source == source))
    ).first()


async def record_import(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Remember the last file imported for a source (one row per source)."""
    stmt = insert(conn, LocationImport).values(values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["source"], set_={c: stmt.excluded[c] for c in values if c != "source"}
        )
    )


async def upsert(conn: AsyncConnection, values: list[dict[str, Any]]) -> None:
    """Insert or update by (source, source_id): re-importing a file converges, never duplicates."""
    if not values:
        return
    # One row's statement run for every row (executemany), not one VALUES list of every row: compiling
    # 15,000 bind parameters took longer than the writes (0.3 s of a first start's 395 + 351 points).
    stmt = insert(conn, Location)
    updated = {c: stmt.excluded[c] for c in values[0] if c not in ("source", "source_id", "created_at", "id")}
    stmt = stmt.on_conflict_do_update(
        index_elements=["source", "source_id"], set_=updated | {"updated_at": utcnow()}
    )
    await conn.execute(stmt, values)


async def refresh_statistics(conn: AsyncConnection) -> None:
    """After a bulk import: PostgreSQL plans the first searches from stale row counts otherwise, and may
    read the whole table instead of walking the index until autovacuum catches up."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ANALYZE locations"))


async def count(conn: AsyncConnection, source: str | None = None) -> int:
    stmt = select(func.count()).select_from(Location)
    if source is not None:
        stmt = stmt.where(Location.source == source)
    return int((await conn.execute(stmt)).scalar_one())


def nearest_plan(conn: Connection, q: NearQuery) -> list[str]:
    """The database's plan for the index-driven step of :func:`nearest` (tests and benchmarks show it)."""
    where, params = _filters(q.mask, q.kind, "" if conn.dialect.name == "postgresql" else "l.")
    params |= {"lat": q.lat, "lon": q.lon}
    if conn.dialect.name == "postgresql":
        sql = (
            f"EXPLAIN SELECT {_PG_DISTANCE} AS d FROM locations WHERE {where}"  # noqa: S608 - constants
            f" ORDER BY geom <-> {_PG_POINT} LIMIT {q.limit + 9}"
        )
    else:
        sql = "EXPLAIN QUERY PLAN " + SQLITE_CANDIDATES + where
        bbox = bbox_around(q.lat, q.lon, q.radius_m or _FIRST_RADIUS_M)
        c2, r2 = planar_cap(q.lat, bbox, q.radius_m or _FIRST_RADIUS_M)
        params |= _box_params(bbox) | {"c2": c2, "r2": r2}
    rows = conn.execute(text(sql), params).all()
    return [str(r[0] if len(r) == 1 else r[-1]) for r in rows]
