"""Public collection-point search: nearest first, map viewport, by id, by name. No sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from ecoeco.core.api import RowId
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import ProblemError
from ecoeco.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from ecoeco.locations import service
from ecoeco.locations.categories import VALID
from ecoeco.locations.models import Kind
from ecoeco.locations.schemas import LocationDetail, LocationSummary, NearbyPage
from ecoeco.runtime.deps import BackendsDep

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


@router.get("", response_model=NearbyPage)
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
    nearest = await service.nearby(backends.db, params, now)
    return Response(nearest.json(), media_type="application/json")


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
