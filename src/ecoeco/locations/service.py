"""Locations logic: query validation, paging, opening hours, imports. SQL lives in the repository."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Row

from ecoeco.core.clock import utcnow
from ecoeco.core.errors import NotFound, ProblemError
from ecoeco.core.pagination import DEFAULT_LIMIT, Page, encode_cursor, query_tag, read_keyset
from ecoeco.db.engine import Database
from ecoeco.locations import index as point_index
from ecoeco.locations import repository
from ecoeco.locations.categories import VALID, UnknownCategoryError, from_mask, to_mask
from ecoeco.locations.geo import BBox, looks_swapped, valid_lat_lon
from ecoeco.locations.hours import OpeningHours, hours_from_text
from ecoeco.locations.importer import (
    KECO_SOURCE,
    ImportFileError,
    LocationRecord,
    ParsedFile,
    Rejection,
    SourceFormat,
    parse_file,
)
from ecoeco.locations.models import CoordinateOrigin, Kind
from ecoeco.locations.projection import Check, Projection
from ecoeco.locations.repository import Found, NearQuery
from ecoeco.locations.schemas import LocationDetail, LocationSummary, TodayHours
from ecoeco.locations.text import initials, is_initials, search_key

log = structlog.get_logger(__name__)

MAX_RADIUS_M = 100_000.0  # beyond this "nearby" means nothing: leave radius_m out for "however far"
MAX_QUERY_CHARS = 100
_IMPORT_BATCH = 500
# Rows one open_now request reads at most: at 3 a.m. "open now, however far" would otherwise read every
# point there is. Past it the page comes back short, with a cursor to go on from.
_OPEN_NOW_SCAN = 1_000


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


def _today(hours: Any, now: datetime) -> TodayHours | None:
    if hours is None:
        return None
    if isinstance(hours, str):
        return _today_cached(hours, now.replace(second=0, microsecond=0))[0]
    return _today_model(OpeningHours.from_json(hours), now)


@lru_cache(maxsize=4096)
def _today_cached(stored: str, minute: datetime) -> tuple[TodayHours | None, str]:
    """Today's hours and their JSON. A page repeats a handful of schedules, and hours have minute
    resolution: one evaluation each."""
    today = _today_model(hours_from_text(stored), minute)
    return today, "null" if today is None else today.model_dump_json()


_NO_HOURS: tuple[TodayHours | None, str] = (None, "null")


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
        coordinates=CoordinateOrigin(row.coordinates),
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
    radius_m: float | None = None  # None: the nearest however far
    open_now: bool = False


def _open_now(today: TodayHours | None) -> bool:
    return today is not None and today.open_now is True


@lru_cache(maxsize=8192)
def _fragment(row: Row[Any]) -> str:
    """A summary's JSON without its last two fields (distance, today) and closing brace: that part depends
    on the row alone, and the same rows answer request after request. Keyed by the whole row: a changed
    row is another entry, never a stale one."""
    return _summary(row, None).model_dump_json(exclude={"distance_m", "today"})[:-1]


@dataclass(frozen=True)
class Nearby:
    """A page of the nearest points: a :class:`NearbyPage` with each row's today (model and JSON)."""

    items: list[tuple[Found, tuple[TodayHours | None, str]]]
    next_cursor: str | None
    nearest_m: float | None

    def json(self) -> bytes:
        """The NearbyPage as pydantic writes it, byte for byte (a test holds it to that), from cached
        fragments: building and serialising ten models per response was most of the request's own time.
        Floats: repr() and pydantic agree on every value round(·, 2) gives; the cursor is base64url."""
        items = ",".join(
            f'{_fragment(f.row)},"distance_m":{round(f.distance_m, 2)!r},"today":{today[1]}}}'
            for f, today in self.items
        )
        cursor = "null" if self.next_cursor is None else f'"{self.next_cursor}"'
        nearest = "null" if self.nearest_m is None else repr(round(self.nearest_m, 2))
        return f'{{"items":[{items}],"next_cursor":{cursor},"nearest_m":{nearest}}}'.encode()


async def nearby(db: Database, p: NearbyParams, now: datetime) -> Nearby:
    check_point(p.lat, p.lon)
    mask, kind = p.filters()
    tag = query_tag(p.lat, p.lon, p.radius_m, mask, kind, p.open_now)
    # "n": how far the nearest matching point is, found on the first page and carried to the next ones.
    after = read_keyset(p.cursor, ("d", "id", "n"), tag=tag)
    q = NearQuery(
        p.lat,
        p.lon,
        p.radius_m,
        p.limit,
        mask=mask,
        kind=kind,
        after=None if after is None else (float(after["d"]), int(after["id"])),
    )
    keep = _open_now if p.open_now else None
    minute = now.replace(second=0, microsecond=0)

    def work(search: Callable[[NearQuery], list[Found]]) -> Nearby:
        page, resume = _nearest_page(search, q, minute, keep)
        if after is not None:
            nearest_m = after["n"]
        elif page:
            nearest_m = page[0][0].distance_m
        elif q.radius_m is not None:
            # Nothing within the radius: still say how far the nearest one is.
            closest, _ = _nearest_page(search, replace(q, radius_m=None, limit=1), minute, keep)
            nearest_m = closest[0][0].distance_m if closest else None
        else:
            nearest_m = None
        cursor = None
        if resume is not None:
            cursor = encode_cursor({"d": resume[0], "id": resume[1], "n": nearest_m, "q": tag})
        return Nearby(page, cursor, nearest_m)

    index = await point_index.current(db)
    if index is not None:
        return work(index.nearest)
    return await db.read(lambda conn: work(partial(repository.nearest, conn)))


def _nearest_page(
    search: Callable[[NearQuery], list[Found]],
    q: NearQuery,
    minute: datetime,
    keep: Callable[[TodayHours | None], bool] | None,
) -> tuple[list[tuple[Found, tuple[TodayHours | None, str]]], tuple[float, int] | None]:
    """``q.limit`` rows passing ``keep`` (open now) and the (distance, id) the next page starts after."""
    # Without a filter one query answers; with one, scan ahead in batches until the page is full.
    batch = q.limit if keep is None else max(2 * q.limit, 50)
    page: list[tuple[Found, tuple[TodayHours | None, str]]] = []
    after = q.after
    scanned = 0
    while True:
        found = search(q if (batch, after) == (q.limit, q.after) else replace(q, limit=batch, after=after))
        for f in found[:batch]:
            # Rows of the nearest-first search carry their hours as text (repository.SUMMARY_COLUMNS).
            hours = f.row.hours
            today = _NO_HOURS if hours is None else _today_cached(hours, minute)
            if keep is None or keep(today[0]):
                page.append((f, today))
                if len(page) > q.limit:
                    return page[: q.limit], _position(page[q.limit - 1][0])
        if len(found) <= batch:
            return page, None
        if keep is None:
            return page, _position(page[-1][0])  # the look-ahead row exists and needs no check
        after = _position(found[batch - 1])
        scanned += batch
        if scanned >= _OPEN_NOW_SCAN:
            return page, after


def _position(found: Found) -> tuple[float, int]:
    return found.distance_m, found.row.id


async def viewport(db: Database, bbox: str, p: ListParams, now: datetime) -> Page[LocationSummary]:
    box = parse_bbox(bbox)
    mask, kind = p.filters()
    tag = query_tag(box, mask, kind)
    after = read_keyset(p.cursor, ("id",), tag=tag)
    rows = await db.read(
        lambda conn: repository.in_bbox(
            conn,
            box,
            limit=p.limit,
            mask=mask,
            kind=kind,
            after_id=None if after is None else int(after["id"]),
        )
    )
    items = [_summary(r, _today(r.hours, now)) for r in rows[: p.limit]]
    more = len(rows) > p.limit
    return Page[LocationSummary].model_construct(
        items=items, next_cursor=encode_cursor({"id": items[-1].id, "q": tag}) if more else None
    )


async def detail(db: Database, location_id: int, now: datetime) -> LocationDetail:
    row = await db.read(lambda conn: repository.get(conn, location_id))
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
        closed_at=row.closed_at,
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
    rows = await db.read(
        lambda conn: repository.search(
            conn,
            key,
            initials=is_initials(key),
            limit=p.limit,
            mask=mask,
            kind=kind,
            after=None if after is None else (int(after["rank"]), int(after["id"])),
        )
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
    """What an import did, or with ``dry_run`` would do."""

    path: str
    encoding: str
    rows: int
    source: str
    dry_run: bool = False
    inserted: int = 0
    updated: int = 0
    reopened: int = 0
    # Points of this source the file no longer lists: (source id, name), closed (kept, not searched).
    closed: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    converted: int = 0  # placed from projected x/y
    fixed: int = 0  # name column held the address
    projection: Check | None = None
    without_categories: int = 0
    without_hours: int = 0

    @property
    def ok(self) -> int:
        return self.inserted + self.updated + self.reopened


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
        "coordinates": record.coordinates.value,
        "kind": record.kind.value,
        "category_mask": to_mask(record.categories),
        "hours": record.hours.as_json() if record.hours else None,
        "phone": record.phone,
        "url": record.url,
        "extra": record.extra,
        "search_name": search_key(record.name),
        "search_text": search_key(f"{record.name} {address}"),
        "search_initials": initials(record.name),
        "closed_at": None,  # listed again: open again
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
    xy: Projection | None = None,
    dry_run: bool = False,
    bundled: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import the file ``name`` as the current state of its source, in one transaction.

    Rows are upserted by (source, source id); points of the source the file no longer lists are closed;
    other sources are not touched. ``dry_run`` reads the database and reports the same summary, writing
    nothing. A simple CSV's source defaults to the file's stem, so re-importing the same file converges.
    ``progress(done, total)`` after each batch.
    """
    parsed: ParsedFile = parse_file(
        data, fmt, source=source or Path(name).stem, kind=kind, columns=columns, xy=xy
    )
    if parsed.rows == 0:
        raise ImportFileError("the file has a header but no rows: importing it would close every point")
    records = parsed.records
    source_name = KECO_SOURCE if fmt is SourceFormat.KECO else (source or Path(name).stem)
    summary = ImportSummary(
        name,
        parsed.encoding,
        parsed.rows,
        source_name,
        dry_run=dry_run,
        rejected=parsed.rejections,
        converted=sum(1 for r in records if r.coordinates is CoordinateOrigin.CONVERTED),
        fixed=sum(1 for r in records if r.fixed),
        projection=parsed.projection,
        without_categories=sum(1 for r in records if not r.categories),
        without_hours=sum(1 for r in records if r.hours is None),
    )
    # One transaction: a failure anywhere leaves the database as it was.
    async with db.engine.begin() as conn:
        known = await repository.source_rows(conn, source_name)
        # Rejected rows are still listed by the source: they keep their last good version, open.
        listed = {r.source_id for r in records} | {r.source_id for r in parsed.rejections if r.source_id}
        for r in records:
            before = known.get(r.source_id)
            if before is None:
                summary.inserted += 1
            elif before.closed:
                summary.reopened += 1
            else:
                summary.updated += 1
        gone = sorted(
            ((sid, k) for sid, k in known.items() if sid not in listed and not k.closed),
            key=lambda g: g[1].id,
        )
        summary.closed = [(sid, k.name) for sid, k in gone]
        if dry_run:
            return summary
        now = utcnow()
        for start in range(0, len(records), _IMPORT_BATCH):
            await repository.upsert(conn, [_values(r) for r in records[start : start + _IMPORT_BATCH]])
            if progress:
                progress(min(start + _IMPORT_BATCH, len(records)), len(records))
        await repository.close(conn, [k.id for _, k in gone], now)
        await repository.record_import(
            conn,
            {
                "source": source_name,
                "file": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bundled": bundled,
                "rows": summary.ok,
                "imported_at": now,
            },
        )
    point_index.changed(db)
    async with db.engine.begin() as conn:
        await repository.refresh_statistics(conn)
    log.info(
        "locations imported",
        source=source_name,
        file=name,
        ok=summary.ok,
        closed=len(summary.closed),
        rejected=len(summary.rejected),
    )
    return summary


def summary_json(summary: ImportSummary) -> dict[str, Any]:
    check = summary.projection
    return {
        "file": summary.path,
        "source": summary.source,
        "dry_run": summary.dry_run,
        "encoding": summary.encoding,
        "rows": summary.rows,
        "ok": summary.ok,
        "inserted": summary.inserted,
        "updated": summary.updated,
        "reopened": summary.reopened,
        "closed": [{"source_id": sid, "name": n} for sid, n in summary.closed],
        "converted": summary.converted,
        "fixed": summary.fixed,
        "projection_check": None
        if check is None
        else {"rows": check.rows, "max_m": check.max_m, "p95_m": check.p95_m},
        "rejected": [r.__dict__ for r in summary.rejected],
        "without_categories": summary.without_categories,
        "without_hours": summary.without_hours,
    }
