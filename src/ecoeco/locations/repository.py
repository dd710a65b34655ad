"""All SQL of the locations domain.

Reads use SQLAlchemy Core on a plain connection: the search endpoints are the hottest public path and
an ORM session per request costs more than the query itself.

Nearest-first on PostgreSQL is a KNN walk of a GiST index (``geom <-> point``) followed by an exact
refinement; on SQLite an R*Tree box query that widens until it provably holds the nearest rows. Both
rank candidates with the same haversine (``ecoeco.locations.geo``) and break ties by id, so pages are
stable and both backends return the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, TextClause, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ecoeco.core.clock import utcnow
from ecoeco.db.sql import insert
from ecoeco.locations.geo import BBox, bbox_around, haversine_m, planar_reach_deg
from ecoeco.locations.models import Location

_SUMMARY = ("id", "name", "kind", "road_address", "lot_address", "lat", "lon", "category_mask")
# Hours as text: few distinct schedules, so the service decodes each once (lru_cache) instead of
# asyncpg decoding the JSON of every row of every response.
SUMMARY_COLUMNS = ", ".join(_SUMMARY) + ", CAST(hours AS TEXT) AS hours"
_PREFIXED = ", ".join("l." + c for c in _SUMMARY) + ", CAST(l.hours AS TEXT) AS hours"
# Widening steps of the SQLite search: most queries in a city finish on the first box.
_FIRST_RADIUS_M = 250.0
_GROWTH = 4.0


@lru_cache(maxsize=256)
def _sql(statement: str) -> TextClause:
    """Parsed once per statement shape: text() parses bind names with a regex on every call."""
    return text(statement)


@dataclass(frozen=True)
class NearQuery:
    lat: float
    lon: float
    radius_m: float
    limit: int  # rows wanted; the repository returns up to limit + 1 so callers can tell "more"
    mask: int = 0  # rows must accept every category bit set here
    kind: str | None = None
    after: tuple[float, int] | None = None  # (distance, id) of the last row already returned


@dataclass(frozen=True)
class Found:
    row: Row[Any]
    distance_m: float


def _filters(mask: int, kind: str | None, prefix: str = "") -> tuple[str, dict[str, Any]]:
    # ">=" means "=" here (x & m <= m), but PostgreSQL guesses a third of the rows pass it instead of
    # 0.5 %, so it keeps walking the spatial index rather than sorting a whole radius.
    sql = f" AND ({prefix}category_mask & :mask) >= :mask" if mask else ""
    if kind:
        sql += f" AND {prefix}kind = :kind"
    return sql, {"mask": mask, "kind": kind}


# --- nearest first ----------------------------------------------------------------------------


async def nearest(conn: AsyncConnection, q: NearQuery) -> list[Found]:
    if conn.dialect.name == "postgresql":
        return await _nearest_postgres(conn, q)
    return await _nearest_sqlite(conn, q)


_PG_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_PG_BOX = "geom && ST_MakeEnvelope(:west, :south, :east, :north, 4326)"


async def _nearest_postgres(conn: AsyncConnection, q: NearQuery) -> list[Found]:
    """A KNN walk of the 2D index bounds the answer; one statement returns every row that close.

    A GiST index on ``geometry`` (lon/lat) is built sorted and answers a KNN walk reading ~20 pages;
    the ``geography`` index needs ~200, as it cannot be built sorted. The walk's order is by planar
    lon/lat distance, so it only yields a great-circle distance ("reach") that the wanted rows are
    within; the outer query reads every row that can be that close (``:k`` metres-to-degrees from
    :func:`planar_reach_deg`, which grows with the distance) and Python ranks them exactly.
    """
    extra, params = _filters(q.mask, q.kind)
    rest = ""
    if q.after is not None:
        # A millimetre of slack for PostGIS vs Python rounding; the exact (distance, id) test is in
        # _rank. Rows within it do not count towards the reach, which can then only grow.
        extra += " AND ST_Distance(geom::geography, {p}::geography, false) >= :after_d - 0.001"
        rest = " AND d > :after_d + 0.001"
        params["after_d"] = q.after[0]
    want = q.limit + 1
    params |= _box_params(bbox_around(q.lat, q.lon, q.radius_m)) | {
        "lat": q.lat,
        "lon": q.lon,
        "radius": q.radius_m,
        "want": want,
        "walk": want + 8,  # a few more than wanted: the cursor's own row and box corners drop out
        "k": planar_reach_deg(q.lat, q.radius_m) / q.radius_m,
    }
    sql = (
        "WITH walk AS ("  # noqa: S608 - constant fragments; every value is a bound parameter
        " SELECT id, ST_Distance(geom::geography, {p}::geography, false) AS d FROM locations"
        f" WHERE {_PG_BOX}{extra} ORDER BY geom <-> {{p}} LIMIT :walk),"
        " reach AS (SELECT COALESCE((SELECT d FROM walk WHERE d <= :radius"
        f"{rest} ORDER BY d, id OFFSET :want - 1 LIMIT 1), :radius) AS m)"
        f" SELECT {SUMMARY_COLUMNS} FROM locations, reach"
        f" WHERE ST_DWithin(geom, {{p}}, :k * reach.m + 1e-9) AND {_PG_BOX}{extra}"
    ).format(p=_PG_POINT)
    rows = (await conn.execute(_sql(sql), params)).all()
    return _rank(q, rows, q.radius_m)[:want]


def _rank(q: NearQuery, rows: Sequence[Row[Any]], within_m: float) -> list[Found]:
    """Rows within ``within_m`` and after the cursor, by exact distance then id."""
    found = []
    for r in rows:
        d = haversine_m(q.lat, q.lon, r.lat, r.lon)
        if d <= within_m and (q.after is None or (d, r.id) > q.after):
            found.append(Found(r, d))
    found.sort(key=_order)
    return found


async def _nearest_sqlite(conn: AsyncConnection, q: NearQuery) -> list[Found]:
    extra, params = _filters(q.mask, q.kind, "l.")
    # Find the winners on (id, lat, lon) alone, then read only their full rows: in a dense city the
    # box holds hundreds of rows that lose.
    candidates = _sql(
        "SELECT l.id, l.lat, l.lon FROM locations_rtree r JOIN locations l ON l.id = r.id "  # noqa: S608
        "WHERE r.max_lat >= :south AND r.min_lat <= :north AND r.max_lon >= :west AND r.min_lon <= :east"
        + extra
    )
    radius = min(q.radius_m, max(_FIRST_RADIUS_M, q.after[0] * 1.5 if q.after else 0.0))
    while True:
        box = bbox_around(q.lat, q.lon, radius)
        # Only rows inside the circle are certain to beat everything outside the box.
        found = _rank(q, (await conn.execute(candidates, params | _box_params(box))).all(), radius)
        if len(found) > q.limit or radius >= q.radius_m:
            break
        radius = min(q.radius_m, radius * _GROWTH)
    best = found[: q.limit + 1]
    if not best:
        return []
    rows = {r.id: r for r in (await conn.execute(_BY_IDS, {"ids": [f.row.id for f in best]})).all()}
    return [Found(rows[f.row.id], f.distance_m) for f in best]


_BY_IDS = text(f"SELECT {SUMMARY_COLUMNS} FROM locations WHERE id IN :ids").bindparams(  # noqa: S608
    bindparam("ids", expanding=True)
)


def _order(f: Found) -> tuple[float, int]:
    return f.distance_m, f.row.id


def _box_params(box: BBox) -> dict[str, float]:
    return {"south": box.south, "north": box.north, "west": box.west, "east": box.east}


# --- map viewport -----------------------------------------------------------------------------


async def in_bbox(
    conn: AsyncConnection, box: BBox, *, limit: int, mask: int, kind: str | None, after_id: int | None
) -> Sequence[Row[Any]]:
    extra, params = _filters(mask, kind, "l.")
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
    return (await conn.execute(_sql(sql), params)).all()


# --- by id, by name ---------------------------------------------------------------------------


async def get(conn: AsyncConnection, location_id: int) -> Row[Any] | None:
    return (await conn.execute(select(Location.__table__).where(Location.id == location_id))).first()


_RANK = "CASE WHEN search_name LIKE :prefix THEN 0 WHEN search_name LIKE :pattern THEN 1 ELSE 2 END"


async def search(
    conn: AsyncConnection,
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
    extra, params = _filters(mask, kind)
    if after is not None:
        extra += f" AND ({rank} > :after_rank OR ({rank} = :after_rank AND id > :after_id))"
        params |= {"after_rank": after[0], "after_id": after[1]}
    sql = (
        f"SELECT {SUMMARY_COLUMNS}, {rank} AS rank FROM locations "  # noqa: S608 - constants only
        f"WHERE {column} LIKE :pattern{extra} ORDER BY rank, id LIMIT :n"
    )
    params |= {"pattern": f"%{key}%", "prefix": f"{key}%", "n": limit + 1}
    rows = (await conn.execute(_sql(sql), params)).all()
    return [(r, r.rank) for r in rows]


# --- import -----------------------------------------------------------------------------------


async def existing_source_ids(conn: AsyncConnection, source: str, source_ids: Sequence[str]) -> set[str]:
    rows = await conn.execute(
        select(Location.source_id).where(Location.source == source, Location.source_id.in_(source_ids))
    )
    return set(rows.scalars())


async def upsert(conn: AsyncConnection, values: list[dict[str, Any]]) -> None:
    """Insert or update by (source, source_id): re-importing a file converges, never duplicates."""
    if not values:
        return
    stmt = insert(conn, Location).values(values)
    updated = {c: stmt.excluded[c] for c in values[0] if c not in ("source", "source_id", "created_at", "id")}
    stmt = stmt.on_conflict_do_update(
        index_elements=["source", "source_id"], set_=updated | {"updated_at": utcnow()}
    )
    await conn.execute(stmt)


async def count(conn: AsyncConnection, source: str | None = None) -> int:
    stmt = select(func.count()).select_from(Location)
    if source is not None:
        stmt = stmt.where(Location.source == source)
    return int((await conn.execute(stmt)).scalar_one())
