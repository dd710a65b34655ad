"""Locations logic: query validation, paging, opening hours, imports. SQL lives in the repository."""

from __future__ import annotations

import asyncio
import json
import math
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import QueuePool

from ecoeco.core.errors import NotFound, ProblemError
from ecoeco.core.pagination import DEFAULT_LIMIT, Page, encode_cursor, query_tag, read_keyset
from ecoeco.db.engine import Database
from ecoeco.locations import repository
from ecoeco.locations.categories import VALID, UnknownCategoryError, from_mask, to_mask
from ecoeco.locations.geo import BBox, looks_swapped, valid_lat_lon
from ecoeco.locations.hours import OpeningHours, hours_from_text
from ecoeco.locations.importer import LocationRecord, ParsedFile, Rejection, SourceFormat, parse_file
from ecoeco.locations.models import Kind
from ecoeco.locations.repository import Found, NearQuery
from ecoeco.locations.schemas import LocationDetail, LocationSummary, TodayHours
from ecoeco.locations.text import initials, is_initials, search_key

DEFAULT_RADIUS_M = 5_000.0
MAX_RADIUS_M = 100_000.0  # beyond this "nearby" means nothing; use a bbox for a map instead
MAX_QUERY_CHARS = 100
_IMPORT_BATCH = 500


# --- input checks -----------------------------------------------------------------------------


def check_point(lat: float, lon: float) -> None:
    if valid_lat_lon(lat, lon):
        return
    if math.isfinite(lat) and math.isfinite(lon) and looks_swapped(lat, lon):
        raise ProblemError(
            f"lat={lat} is not a latitude, but (lat={lon}, lon={lat}) is in Korea: "
            "latitude and longitude look swapped.",
            code="coordinates-swapped",
        )
    raise ProblemError("lat must be within -90..90 and lon within -180..180.", code="invalid-coordinates")


def category_mask(categories: Sequence[str]) -> int:
    try:
        return to_mask(c.strip() for raw in categories for c in raw.split(",") if c.strip())
    except UnknownCategoryError as exc:
        raise ProblemError(
            f"Unknown category {', '.join(exc.unknown)}; valid categories: {', '.join(VALID)}.",
            code="unknown-category",
            valid=list(VALID),
        ) from exc


def parse_bbox(raw: str) -> BBox:
    """``west,south,east,north`` in degrees (GeoJSON order: longitude first)."""
    try:
        west, south, east, north = (float(p) for p in raw.split(","))
    except ValueError:
        raise ProblemError(
            "bbox must be four numbers: west,south,east,north (longitude first).", code="invalid-bbox"
        ) from None
    if looks_swapped(south, west) and looks_swapped(north, east):
        raise ProblemError(
            "bbox looks like south,west,north,east (latitude first); send west,south,east,north.",
            code="invalid-bbox",
        )
    if not (valid_lat_lon(south, west) and valid_lat_lon(north, east)):
        raise ProblemError("bbox corners must be valid longitudes and latitudes.", code="invalid-bbox")
    if not (west < east and south < north):
        raise ProblemError("bbox needs west < east and south < north.", code="invalid-bbox")
    return BBox(south=south, west=west, north=north, east=east)


# --- reading ----------------------------------------------------------------------------------

_gates: weakref.WeakKeyDictionary[Database, asyncio.Semaphore] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _reading(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection, but never more at once than the pool keeps open.

    Past its size SQLAlchemy opens an "overflow" connection per checkout and closes it on return: under
    32 concurrent clients that churn (connect, TLS probe, PRAGMAs) cost more than the queries and cut
    throughput roughly tenfold. Queueing here instead costs nothing.
    """
    gate = _gates.get(db)
    if gate is None:
        size = db.engine.pool.size() if isinstance(db.engine.pool, QueuePool) else 1
        gate = _gates[db] = asyncio.Semaphore(max(1, size))
    async with gate, db.engine.connect() as conn:
        # Reads need no transaction: autocommit saves the BEGIN and ROLLBACK round trips.
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def _today(hours: Any, now: datetime) -> TodayHours | None:
    if hours is None:
        return None
    if isinstance(hours, str):
        return _today_cached(hours, now.replace(second=0, microsecond=0))
    return _today_model(OpeningHours.from_json(hours), now)


@lru_cache(maxsize=4096)
def _today_cached(stored: str, minute: datetime) -> TodayHours | None:
    # A page repeats a handful of schedules, and hours have minute resolution: one evaluation each.
    return _today_model(hours_from_text(stored), minute)


def _today_model(hours: OpeningHours, now: datetime) -> TodayHours | None:
    if not hours.known:
        return None
    status = hours.status(now)
    return TodayHours.model_construct(
        date=status.date, hours=status.hours, open_now=status.open_now, note=status.note
    )


def _summary(row: Any, today: TodayHours | None, distance: float | None = None) -> LocationSummary:
    # model_construct: the values come typed from our own database; validating them again was a
    # measurable share of the hottest endpoint.
    return LocationSummary.model_construct(
        id=row.id,
        name=row.name,
        kind=Kind(row.kind),
        road_address=row.road_address,
        lot_address=row.lot_address,
        lat=row.lat,
        lon=row.lon,
        categories=from_mask(row.category_mask),
        distance_m=None if distance is None else round(distance, 2),
        today=today,
    )


@dataclass(frozen=True, kw_only=True)
class ListParams:
    """What every list of locations takes: page size, filters, the cursor of the previous page."""

    limit: int = DEFAULT_LIMIT
    categories: Sequence[str] = ()
    kind: Kind | None = None
    cursor: str | None = None

    def filters(self) -> tuple[int, str | None]:
        """(category bit mask, kind) after validation."""
        return category_mask(self.categories), self.kind.value if self.kind else None


@dataclass(frozen=True, kw_only=True)
class NearbyParams(ListParams):
    lat: float
    lon: float
    radius_m: float = DEFAULT_RADIUS_M
    open_now: bool = False


async def nearby(db: Database, p: NearbyParams, now: datetime) -> Page[LocationSummary]:
    check_point(p.lat, p.lon)
    mask, kind = p.filters()
    tag = query_tag(p.lat, p.lon, p.radius_m, mask, kind, p.open_now)
    after = read_keyset(p.cursor, ("d", "id"), tag=tag)
    q = NearQuery(
        p.lat,
        p.lon,
        p.radius_m,
        p.limit,
        mask=mask,
        kind=kind,
        after=None if after is None else (float(after["d"]), int(after["id"])),
    )
    keep: Callable[[TodayHours | None], bool] | None = None
    if p.open_now:
        keep = lambda today: today is not None and today.open_now is True  # noqa: E731
    async with _reading(db) as conn:
        page, more = await _nearest_page(conn, q, now, keep)
    items = [_summary(f.row, today, f.distance_m) for f, today in page]
    last = page[-1][0] if more else None
    cursor = encode_cursor({"d": last.distance_m, "id": last.row.id, "q": tag}) if last else None
    return Page[LocationSummary].model_construct(items=items, next_cursor=cursor)


async def _nearest_page(
    conn: AsyncConnection, q: NearQuery, now: datetime, keep: Callable[[TodayHours | None], bool] | None
) -> tuple[list[tuple[Found, TodayHours | None]], bool]:
    """``q.limit`` rows passing ``keep`` (open now) and whether more exist."""
    # Without a filter one query answers; with one, scan ahead in batches until the page is full.
    batch = q.limit if keep is None else max(2 * q.limit, 50)
    page: list[tuple[Found, TodayHours | None]] = []
    after = q.after
    while True:
        found = await repository.nearest(conn, replace(q, limit=batch, after=after))
        for f in found[:batch]:
            today = _today(f.row.hours, now)
            if keep is None or keep(today):
                page.append((f, today))
                if len(page) > q.limit:
                    return page[: q.limit], True
        if len(found) <= batch:
            return page, False
        if keep is None:
            return page, True  # the look-ahead row exists and needs no check
        after = (found[batch - 1].distance_m, found[batch - 1].row.id)


async def viewport(db: Database, bbox: str, p: ListParams, now: datetime) -> Page[LocationSummary]:
    box = parse_bbox(bbox)
    mask, kind = p.filters()
    tag = query_tag(box, mask, kind)
    after = read_keyset(p.cursor, ("id",), tag=tag)
    async with _reading(db) as conn:
        rows = await repository.in_bbox(
            conn,
            box,
            limit=p.limit,
            mask=mask,
            kind=kind,
            after_id=None if after is None else int(after["id"]),
        )
    items = [_summary(r, _today(r.hours, now)) for r in rows[: p.limit]]
    more = len(rows) > p.limit
    return Page[LocationSummary].model_construct(
        items=items, next_cursor=encode_cursor({"id": items[-1].id, "q": tag}) if more else None
    )


async def detail(db: Database, location_id: int, now: datetime) -> LocationDetail:
    async with _reading(db) as conn:
        row = await repository.get(conn, location_id)
    if row is None:
        raise NotFound(f"No location with id {location_id}.", code="location-not-found")
    return LocationDetail(
        **_summary(row, _today(row.hours, now)).model_dump(exclude={"distance_m"}),
        region=row.region,
        phone=row.phone,
        url=row.url,
        source=row.source,
        source_id=row.source_id,
        opening_hours=row.hours,
        extra=row.extra,
        updated_at=row.updated_at,
    )


async def search(db: Database, q: str, p: ListParams, now: datetime) -> Page[LocationSummary]:
    key = search_key(q)
    if not key:
        raise ProblemError(
            "q must contain at least one letter or digit (spaces and punctuation are ignored).",
            code="invalid-query",
        )
    if len(q) > MAX_QUERY_CHARS:
        raise ProblemError(f"q is longer than {MAX_QUERY_CHARS} characters.", code="invalid-query")
    mask, kind = p.filters()
    tag = query_tag(key, mask, kind)
    after = read_keyset(p.cursor, ("rank", "id"), tag=tag)
    async with _reading(db) as conn:
        rows = await repository.search(
            conn,
            key,
            initials=is_initials(key),
            limit=p.limit,
            mask=mask,
            kind=kind,
            after=None if after is None else (int(after["rank"]), int(after["id"])),
        )
    items = [_summary(r, _today(r.hours, now)) for r, _ in rows[: p.limit]]
    next_cursor = None
    if len(rows) > p.limit:
        row, rank = rows[p.limit - 1]
        next_cursor = encode_cursor({"rank": rank, "id": row.id, "q": tag})
    return Page[LocationSummary].model_construct(items=items, next_cursor=next_cursor)


# --- import -----------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    path: str
    encoding: str
    rows: int
    inserted: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    without_categories: int = 0
    without_hours: int = 0

    @property
    def ok(self) -> int:
        return self.inserted + self.updated


def _values(record: LocationRecord) -> dict[str, Any]:
    address = " ".join(filter(None, (record.road_address, record.lot_address, record.region)))
    return {
        "source": record.source,
        "source_id": record.source_id,
        "name": record.name,
        "road_address": record.road_address,
        "lot_address": record.lot_address,
        "region": record.region,
        "lat": record.lat,
        "lon": record.lon,
        "kind": record.kind.value,
        "category_mask": to_mask(record.categories),
        "hours": record.hours.as_json() if record.hours else None,
        "phone": record.phone,
        "url": record.url,
        "extra": record.extra,
        "search_name": search_key(record.name),
        "search_text": search_key(f"{record.name} {address}"),
        "search_initials": initials(record.name),
    }


async def import_file(
    db: Database,
    data: bytes,
    name: str,
    fmt: SourceFormat,
    *,
    source: str | None = None,
    kind: Kind = Kind.OTHER,
    columns: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Parse the file ``name`` and upsert its good rows in batches; ``progress(done, total)`` after each.

    A simple CSV's source defaults to the file's stem, so re-importing the same file updates in place.
    """
    parsed: ParsedFile = parse_file(data, fmt, source=source or Path(name).stem, kind=kind, columns=columns)
    summary = ImportSummary(name, parsed.encoding, parsed.rows, rejected=parsed.rejections)
    summary.without_categories = sum(1 for r in parsed.records if not r.categories)
    summary.without_hours = sum(1 for r in parsed.records if r.hours is None)
    summary.inserted, summary.updated = await store(db, parsed.records, progress)
    return summary


async def store(
    db: Database, records: Sequence[LocationRecord], progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Upsert records by (source, source id) in batches, one transaction each; (inserted, updated)."""
    updated = 0
    for start in range(0, len(records), _IMPORT_BATCH):
        batch = records[start : start + _IMPORT_BATCH]
        async with db.engine.begin() as conn:
            for source in {r.source for r in batch}:
                ids = [r.source_id for r in batch if r.source == source]
                updated += len(await repository.existing_source_ids(conn, source, ids))
            await repository.upsert(conn, [_values(r) for r in batch])
        if progress:
            progress(start + len(batch), len(records))
    return len(records) - updated, updated


def summary_json(summary: ImportSummary) -> str:
    return json.dumps(
        {
            "file": summary.path,
            "encoding": summary.encoding,
            "rows": summary.rows,
            "ok": summary.ok,
            "inserted": summary.inserted,
            "updated": summary.updated,
            "rejected": [r.__dict__ for r in summary.rejected],
            "without_categories": summary.without_categories,
            "without_hours": summary.without_hours,
        },
        ensure_ascii=False,
    )
