"""Read collection-point files into validated records; no database here.

Two formats:

* ``keco``: the public-data CSV of recycling-compensation sites exactly as published (``positnSn``,
  ``positnNm``, ``positnPstnLat``, ``positnPstnLot``, ``monSalsHrExplnCn`` … ``clctItemCn``).
* ``simple-csv``: any CSV with a name, latitude and longitude column (and optionally id, address,
  categories, hours …); ``columns`` maps our field names to the file's headers. With ``xy`` set, rows without
  latitude/longitude are placed from their projected ``x``/``y`` columns, once the file's rows that carry both
  show that the projection is right (:mod:`ecoeco.locations.projection`); such rows are marked ``converted``.
  A row whose name column holds the address is untangled (:func:`ecoeco.locations.text.untangle`).

Every row either becomes a :class:`LocationRecord` or a :class:`Rejection` naming its line, so a bad
row is reported and never silently dropped or fatal to the run. Problems with the file as a whole
(encoding, missing columns) raise :class:`ImportFileError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ecoeco.locations import projection
from ecoeco.locations.categories import VALID, Category, UnknownCategoryError, parse_categories, to_mask
from ecoeco.locations.geo import in_korea, looks_swapped
from ecoeco.locations.hours import OpeningHours, parse_closures, parse_day, parse_weekly
from ecoeco.locations.models import CoordinateOrigin, Kind
from ecoeco.locations.projection import Projection
from ecoeco.locations.text import untangle


class SourceFormat(StrEnum):
    KECO = "keco"
    SIMPLE = "simple-csv"


class ImportFileError(ValueError):
    """The file cannot be read at all (as opposed to some bad rows)."""


@dataclass
class LocationRecord:
    source: str
    source_id: str
    name: str
    lat: float
    lon: float
    kind: Kind
    categories: set[Category] = field(default_factory=set)
    hours: OpeningHours | None = None
    road_address: str | None = None
    lot_address: str | None = None
    region: str | None = None
    phone: str | None = None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    line: int = 0
    coordinates: CoordinateOrigin = CoordinateOrigin.PUBLISHED
    xy: tuple[float, float] | None = None  # projected x/y as published, when the file has them
    fixed: str | None = None  # what was repaired in the row, e.g. "name-address-swapped"


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str  # a stable code: missing-coordinates, duplicate-row, …
    detail: str
    source_id: str | None = None


RowParser = Callable[[int, dict[str, str]], "LocationRecord | Rejection"]


class BadRowError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class ParsedFile:
    encoding: str
    rows: int
    records: list[LocationRecord]
    rejections: list[Rejection]
    projection: projection.Check | None = None  # the x/y check, when x/y were used


# --- file level -------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """Public data comes as UTF-8 (with or without BOM) or as CP949 (Excel on Korean Windows)."""
    for encoding, label in (("utf-8-sig", "utf-8"), ("cp949", "cp949")):
        try:
            return data.decode(encoding), label
        except UnicodeDecodeError:
            continue
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"line {line}: byte 0x{data[exc.start]:02x} at offset {exc.start} is neither UTF-8 nor CP949; "
            "save the file as UTF-8 or CP949"
        ) from exc
    raise AssertionError("unreachable: UTF-8 decoding succeeded above")  # pragma: no cover


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num}: not valid CSV ({exc})") from exc


def parse_file(
    data: bytes,
    fmt: SourceFormat,
    *,
    source: str | None = None,
    kind: Kind = Kind.OTHER,
    columns: dict[str, str] | None = None,
    xy: Projection | None = None,
) -> ParsedFile:
    text, encoding = decode(data)
    rows = _rows(text)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ImportFileError("the file is empty") from None
    header = [h.strip() for h in header]
    if fmt is SourceFormat.KECO:
        if xy is not None:
            raise ImportFileError("the KECO file has no projected x/y columns: leave out the projection")
        parse_row = _keco_parser(header)
    else:
        parse_row = _simple_parser(header, source or "simple", kind, columns or {}, xy)
    records: list[LocationRecord] = []
    rejections: list[Rejection] = []
    first_line: dict[str, int] = {}
    count = 0
    for line, row in rows:
        count += 1
        if len(row) != len(header):
            rejections.append(
                Rejection(line, "malformed-row", f"{len(row)} fields where the header has {len(header)}")
            )
            continue
        result = parse_row(line, dict(zip(header, (c.strip() for c in row), strict=True)))
        if isinstance(result, Rejection):
            rejections.append(result)
        elif result.source_id in first_line:
            rejections.append(
                Rejection(
                    line,
                    "duplicate-row",
                    f"id {result.source_id!r} already appeared on line {first_line[result.source_id]}",
                    result.source_id,
                )
            )
        else:
            first_line[result.source_id] = line
            records.append(result)
    check = None
    if xy is not None:
        records, check = _place_by_xy(records, rejections, xy)
        rejections.sort(key=lambda r: r.line)
    return ParsedFile(encoding, count, records, rejections, check)


def _place_by_xy(
    records: list[LocationRecord], rejections: list[Rejection], xy: Projection
) -> tuple[list[LocationRecord], projection.Check]:
    """Give rows without latitude/longitude the position of their x/y, if the rows with both agree."""
    pairs = [(r.xy, (r.lat, r.lon)) for r in records if r.xy and r.coordinates is CoordinateOrigin.PUBLISHED]
    check = projection.check(xy, pairs)
    pending = [r for r in records if r.coordinates is CoordinateOrigin.CONVERTED]
    if not check.passed:
        why = f"x/y not verified as {xy.value} ({check.describe()}; needs ≥ {projection.MIN_CHECK_ROWS} rows "
        why += f"within {projection.MAX_ERROR_M:g} m), so rows without latitude/longitude cannot be placed"
        rejections += [Rejection(r.line, "unverified-projection", why, r.source_id) for r in pending]
        return [r for r in records if r.coordinates is CoordinateOrigin.PUBLISHED], check
    converted = projection.to_wgs84(xy, [r.xy for r in pending if r.xy is not None])
    outside = set()
    for r, (lat, lon) in zip(pending, converted, strict=True):
        r.lat, r.lon = lat, lon
        if not in_korea(lat, lon):
            detail = f"x/y {r.xy} convert to ({r.lat:.6f}, {r.lon:.6f}), outside South Korea"
            rejections.append(Rejection(r.line, "outside-korea", detail, r.source_id))
            outside.add(r.line)
    return [r for r in records if r.line not in outside], check


def _require(header: list[str], needed: dict[str, str]) -> None:
    missing = [f"{column} ({what})" for what, column in needed.items() if column not in header]
    if missing:
        raise ImportFileError(
            f"missing column(s): {', '.join(missing)}; the header has: {', '.join(header) or 'nothing'}"
        )


# --- validation shared by both formats -------------------------------------------------------


def check_coordinates(lat_text: str, lon_text: str) -> tuple[float, float]:
    """``(lat, lon)``, or :class:`BadRowError` for coordinates that cannot place a Korean site."""
    if not lat_text or not lon_text:
        raise BadRowError("missing-coordinates", f"latitude {lat_text!r}, longitude {lon_text!r}")
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise BadRowError(
            "malformed-coordinates", f"latitude {lat_text!r}, longitude {lon_text!r} are not numbers"
        ) from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise BadRowError(
            "malformed-coordinates", f"latitude {lat_text!r}, longitude {lon_text!r} are not finite"
        )
    if looks_swapped(lat, lon):
        raise BadRowError("swapped-coordinates", f"latitude {lat} and longitude {lon} look swapped")
    if not in_korea(lat, lon):
        raise BadRowError("outside-korea", f"({lat}, {lon}) is outside South Korea")
    return lat, lon


def _url(text: str) -> str | None:
    if re.fullmatch(r"https?://\S+", text):
        return text
    if re.fullmatch(r"www\.[\w-]+(\.[\w-]+)+(/\S*)?", text):
        return "https://" + text
    return None


# --- keco -------------------------------------------------------------------------------------

KECO_SOURCE = "keco"
# The columns of the file as the KECO open-data API publishes it; a file without all of them is another file.
KECO_COLUMNS = (
    "positnSn", "positnNm", "positnRgnNm", "positnLotnoAddr", "positnRdnmAddr", "positnPstnAddExpln",
    "positnPstnLat", "positnPstnLot", "positnIntdcCn", "positnCnvncFcltSrvcExpln", "prkMthdExpln",
    "monSalsHrExplnCn", "tuesSalsHrExplnCn", "wedSalsHrExplnCn", "thurSalsHrExplnCn", "friSalsHrExplnCn",
    "satSalsHrExplnCn", "sunSalsHrExplnCn", "lhldySalsHrExplnCn", "lhldyDyoffCn", "tmprLhldyCn",
    "dyoffBgndeCn", "dyoffEnddtCn", "dyoffRsnExpln", "bscTelnoCn", "rprsTelnoCn", "telnoExpln",
    "indivTelnoCn", "lnkgHmpgUrlAddr", "indivRelSrchListCn", "comRelSrwrdListCn", "clctItemCn", "etcMttrCn",
)  # fmt: skip
_KECO_DAYS = (
    "monSalsHrExplnCn",
    "tuesSalsHrExplnCn",
    "wedSalsHrExplnCn",
    "thurSalsHrExplnCn",
    "friSalsHrExplnCn",
    "satSalsHrExplnCn",
    "sunSalsHrExplnCn",
)
# Columns that become first-class fields; every other non-empty column is kept in ``extra``.
_KECO_MAPPED = {
    "positnSn",
    "positnNm",
    "positnRgnNm",
    "positnLotnoAddr",
    "positnRdnmAddr",
    "positnPstnLat",
    "positnPstnLot",
    "rprsTelnoCn",
    "lnkgHmpgUrlAddr",
}


def _keco_parser(header: list[str]) -> RowParser:
    missing = [c for c in KECO_COLUMNS if c not in header]
    if missing:
        raise ImportFileError(
            f"not the KECO recycling-compensation file as published: missing column(s) "
            f"{', '.join(missing)}; the header has: {', '.join(header) or 'nothing'} "
            "(another source's file needs --format simple-csv)"
        )

    def parse(line: int, row: dict[str, str]) -> LocationRecord | Rejection:
        source_id = row["positnSn"]
        if not source_id:
            return Rejection(line, "missing-id", "positnSn is empty")
        if not row["positnNm"]:
            return Rejection(line, "missing-name", "positnNm is empty", source_id)
        try:
            lat, lon = check_coordinates(row["positnPstnLat"], row["positnPstnLot"])
        except BadRowError as exc:
            return Rejection(line, exc.reason, exc.detail, source_id)
        categories, unmatched = parse_categories(row.get("clctItemCn", ""))
        extra: dict[str, Any] = {k: v for k, v in row.items() if v and k not in _KECO_MAPPED}
        if unmatched:
            extra["unrecognised_items"] = unmatched
        hours = _keco_hours(row)
        intro = row.get("positnIntdcCn", "") + row["positnNm"]
        return LocationRecord(
            source=KECO_SOURCE,
            source_id=source_id,
            name=row["positnNm"],
            lat=lat,
            lon=lon,
            kind=Kind.REVERSE_VENDING if "무인회수기" in intro else Kind.RECYCLING_COMPENSATION,
            categories=categories,
            hours=hours,
            road_address=row.get("positnRdnmAddr") or None,
            lot_address=row.get("positnLotnoAddr") or None,
            region=row.get("positnRgnNm") or None,
            phone=row.get("rprsTelnoCn") or row.get("bscTelnoCn") or None,
            url=_url(row.get("lnkgHmpgUrlAddr", "")),
            extra=extra,
            line=line,
        )

    return parse


def _keco_hours(row: dict[str, str]) -> OpeningHours | None:
    texts = [row.get(c, "") for c in _KECO_DAYS]
    week = tuple(parse_day(t) for t in texts)
    # Hours on public holidays, else the holiday-closure column ("전체휴무").
    holiday = parse_day(row.get("lhldySalsHrExplnCn"))
    if holiday is None:
        holiday = parse_day(row.get("lhldyDyoffCn"))
    temporary = parse_day(row.get("tmprLhldyCn"))
    remarks = " ".join(row.get(c, "") for c in ("etcMttrCn", "dyoffRsnExpln"))
    hours = OpeningHours(
        week=week,
        holiday=holiday,
        temporary_holiday=temporary,
        closed_monthly=parse_closures(remarks),
        notes=tuple(t for t, d in zip(texts, week, strict=True) if t and d is None),
    )
    return hours if hours.known else None


# --- simple-csv -------------------------------------------------------------------------------

SIMPLE_FIELDS = (
    "id",
    "name",
    "lat",
    "lon",
    "address",
    "lot_address",
    "region",
    "kind",
    "categories",
    "hours",
    "phone",
    "url",
    "x",
    "y",
    "note",
)


def _simple_parser(
    header: list[str], source: str, default_kind: Kind, columns: dict[str, str], xy: Projection | None
) -> RowParser:
    unknown = sorted(set(columns) - set(SIMPLE_FIELDS))
    if unknown:
        raise ImportFileError(f"unknown field(s) {', '.join(unknown)}; fields are {', '.join(SIMPLE_FIELDS)}")
    col = {f: columns.get(f, f) for f in SIMPLE_FIELDS}
    needed = {"name": col["name"], "latitude": col["lat"], "longitude": col["lon"]}
    if xy is not None:
        needed |= {f"{xy.value} x": col["x"], f"{xy.value} y": col["y"]}
    _require(header, needed)
    # x/y and the note stay in ``extra`` as published: they are only read to place a row and name it.
    used = {col[f] for f in SIMPLE_FIELDS if f not in ("x", "y", "note")}

    def parse(line: int, row: dict[str, str]) -> LocationRecord | Rejection:
        def get(name: str) -> str:
            return row.get(col[name], "")

        name, address = get("name"), get("address")
        # Without an id column, name + address identify a place across re-imports.
        source_id = get("id") or hashlib.sha256(f"{name}\n{address}".encode()).hexdigest()[:24]
        if not name:
            return Rejection(line, "missing-name", f"column {col['name']!r} is empty", source_id)
        extra = {k: v for k, v in row.items() if v and k not in used}
        lot_address, fixed = get("lot_address"), None
        if untangled := untangle(name, address, get("note")):
            extra["published_name"] = name
            name, address, fixed = untangled.name, untangled.address, "name-address-swapped"
            lot_address = lot_address or untangled.lot_address or ""
        try:
            planar = _xy(get("x"), get("y")) if xy is not None else None
            if planar is not None and not get("lat") and not get("lon"):
                # Placed after the whole file is read, once its x/y are verified (_place_by_xy).
                lat, lon, origin = math.nan, math.nan, CoordinateOrigin.CONVERTED
            else:
                lat, lon = check_coordinates(get("lat"), get("lon"))
                origin = CoordinateOrigin.PUBLISHED
            kind = _kind(get("kind"), default_kind)
            categories = _simple_categories(get("categories"))
        except BadRowError as exc:
            return Rejection(line, exc.reason, exc.detail, source_id)
        hours = parse_weekly(get("hours")) if get("hours") else None
        return LocationRecord(
            source=source,
            source_id=source_id,
            name=name,
            lat=lat,
            lon=lon,
            kind=kind,
            categories=categories,
            hours=hours if hours and (hours.known or hours.closed_monthly) else None,
            road_address=address or None,
            lot_address=lot_address or None,
            region=get("region") or None,
            phone=get("phone") or None,
            url=_url(get("url")),
            extra=extra,
            line=line,
            coordinates=origin,
            xy=planar,
            fixed=fixed,
        )

    return parse


def _xy(x_text: str, y_text: str) -> tuple[float, float] | None:
    """Projected coordinates, or ``None`` when the row has none; a malformed pair is a bad row."""
    if not x_text and not y_text:
        return None
    try:
        x, y = float(x_text), float(y_text)
    except ValueError:
        raise BadRowError("malformed-coordinates", f"x {x_text!r}, y {y_text!r} are not numbers") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise BadRowError("malformed-coordinates", f"x {x_text!r}, y {y_text!r} are not finite")
    return x, y


def _kind(text: str, default: Kind) -> Kind:
    if not text:
        return default
    try:
        return Kind(text)
    except ValueError:
        raise BadRowError("unknown-kind", f"{text!r} is not one of {', '.join(Kind)}") from None


def _simple_categories(text: str) -> set[Category]:
    """Either our slugs ("clear_pet;battery") or Korean item text ("투명페트병, 건전지")."""
    slugs = [s for s in re.split(r"[;,|\s]+", text) if s]
    if slugs and all(re.fullmatch(r"[a-z_]+", s) for s in slugs):
        try:
            to_mask(slugs)
        except UnknownCategoryError as exc:
            raise BadRowError("unknown-category", f"{exc}; valid: {', '.join(VALID)}") from None
        return {Category(s) for s in slugs}
    return parse_categories(text)[0]
