"""Public collection-point search: nearest first, map viewport, by id, by name. No sign-in."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ecoeco.core.api import RowId
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import ProblemError
from ecoeco.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorQuery, LimitQuery, Page
from ecoeco.locations import service
from ecoeco.locations.categories import VALID
from ecoeco.locations.models import Kind
from ecoeco.locations.schemas import LocationDetail, LocationSummary, NearbyPage
from ecoeco.runtime.deps import BackendsDep, get_backends

router = APIRouter(prefix="/locations", tags=["locations"])

Categories = Annotated[
    list[str],
    Query(
        alias="category",
        description=f"Only places accepting *all* of these (repeat or comma-separate): {', '.join(VALID)}.",
    ),
]


def _json(model: BaseModel) -> Response:
    # The models are built and checked in the service; serialise once in Rust instead of letting
    # FastAPI validate the response a second time (measurable on the hottest public endpoint).
    return Response(model.model_dump_json(), media_type="application/json")


# Decimal numbers as anyone writes them: for these float(), int() and pydantic read the same value.
_DEGREES = re.compile(rb"-?(?:0|[1-9][0-9]{0,2})(?:\.[0-9]{1,20})?")
_PLAIN = {b"lat": _DEGREES, b"lon": _DEGREES, b"limit": re.compile(rb"[1-9][0-9]{0,2}")}


def _plain_query(query_string: bytes) -> service.NearbyParams | None:
    """``lat=…&lon=…[&limit=…]`` and nothing else, each once, in plain decimals: the query phones send."""
    values: dict[bytes, bytes] = {}
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        pattern = _PLAIN.get(name)
        if pattern is None or name in values or pattern.fullmatch(value) is None:
            return None
        values[name] = value
    limit = int(values.get(b"limit", DEFAULT_LIMIT))
    if b"lat" not in values or b"lon" not in values or limit > MAX_LIMIT:
        return None
    return service.NearbyParams(lat=float(values[b"lat"]), lon=float(values[b"lon"]), limit=limit)


class _PlainNearest(APIRoute):
    """Reads the plain nearest-first query itself: FastAPI's validation, one parameter at a time, took as
    long as the search. Every other query (filters, cursor, bbox, anything unusual) goes FastAPI's way, so
    the OpenAPI document, validation and errors are FastAPI's; a test holds both ways to the same answers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = super().get_route_handler()

        async def handler(request: Request) -> Response:
            params = _plain_query(request.scope["query_string"])
            if params is None:
                return await declared(request)
            return _nearest(await service.nearby(get_backends(request).db, params, utcnow()))

        return handler


def _nearest(page: service.Nearby) -> Response:
    return Response(page.json(), media_type="application/json")


async def list_locations(
    backends: BackendsDep,
    lat: Annotated[float | None, Query(description="Latitude (WGS84) of the query point.")] = None,
    lon: Annotated[float | None, Query(description="Longitude (WGS84) of the query point.")] = None,
    radius_m: Annotated[
        float | None,
        Query(
            gt=0,
            le=service.MAX_RADIUS_M,
            description="Search radius in metres. Leave it out for the nearest points however far.",
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(description="Map viewport west,south,east,north (instead of lat/lon); ordered by id."),
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    category: Categories = [],  # noqa: B006 - FastAPI copies query defaults per request
    kind: Kind | None = None,
    open_now: Annotated[bool, Query(description="Only places open now (Korea time).")] = False,
    cursor: CursorQuery = None,
) -> Response:
    """Collection points nearest first with their distance (and how far the nearest is), or all points in
    a map viewport."""
    now = utcnow()
    listing = service.ListParams(limit=limit, categories=category, kind=kind, cursor=cursor)
    if bbox is not None:
        if lat is not None or lon is not None:
            raise ProblemError("Give either lat/lon or bbox, not both.", code="conflicting-parameters")
        if open_now:
            raise ProblemError("open_now needs lat/lon.", code="conflicting-parameters")
        page = await service.viewport(backends.db, bbox, listing, now)
        return _json(page)
    if lat is None or lon is None:
        raise ProblemError("lat and lon are both required (or give a bbox).", code="missing-coordinates")
    params = service.NearbyParams(lat=lat, lon=lon, radius_m=radius_m, open_now=open_now, **vars(listing))
    return _nearest(await service.nearby(backends.db, params, now))


router.add_api_route(
    "", list_locations, methods=["GET"], response_model=NearbyPage, route_class_override=_PlainNearest
)


@router.get("/search", response_model=Page[LocationSummary])
async def search_locations(
    backends: BackendsDep,
    q: Annotated[str, Query(description="Part of a name or address; initial consonants (ㅈㅇㅅㅎ) work.")],
    limit: LimitQuery = DEFAULT_LIMIT,
    category: Categories = [],  # noqa: B006 - FastAPI copies query defaults per request
    kind: Kind | None = None,
    cursor: CursorQuery = None,
) -> Response:
    """Search by name or address, Korean-aware (spacing, 서울특별시 = 서울, initial consonants)."""
    listing = service.ListParams(limit=limit, categories=category, kind=kind, cursor=cursor)
    return _json(await service.search(backends.db, q, listing, utcnow()))


@router.get("/{location_id}", response_model=LocationDetail)
async def get_location(backends: BackendsDep, location_id: RowId) -> Response:
    """One collection point with its weekly hours, holiday rules and source fields."""
    return _json(await service.detail(backends.db, location_id, utcnow()))
