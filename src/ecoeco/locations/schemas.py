"""API models of the locations domain."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from ecoeco.core.pagination import Page
from ecoeco.locations.categories import Category
from ecoeco.locations.models import CoordinateOrigin, Kind


class TodayHours(BaseModel):
    date: dt.date = Field(description="Today in Korea time (Asia/Seoul).")
    hours: list[str] | None = Field(
        description='Open intervals today, e.g. ["09:00-18:00"]; null if unknown.'
    )
    open_now: bool | None = Field(description="Open at the time of the request; null if unknown.")
    note: str | None = Field(None, description="Why today differs from the weekly rule (holiday, closure).")


class LocationSummary(BaseModel):
    id: int
    name: str
    kind: Kind
    road_address: str | None
    lot_address: str | None
    lat: float
    lon: float
    coordinates: CoordinateOrigin = Field(
        description="published: the source's own latitude/longitude; converted: computed by us from the "
        "source's projected map coordinates (checked to within 2 m on the rows that have both)."
    )
    categories: list[Category] = Field(description="Accepted items, as knowledge-base category ids.")
    distance_m: float | None = Field(None, description="Great-circle distance from the query point.")
    today: TodayHours | None = Field(description="Null when the opening hours are unknown.")


class LocationDetail(LocationSummary):
    region: str | None
    phone: str | None
    url: str | None
    source: str
    source_id: str
    opening_hours: dict[str, Any] | None = Field(description="Weekly rule, holiday rules, monthly closures.")
    extra: dict[str, Any] = Field(description="Fields of the source record we do not model, as published.")
    updated_at: dt.datetime
    closed_at: dt.datetime | None = Field(
        description="When a newer file of the source stopped listing this point: kept for history, no longer "
        "in any list or search. Null while it is listed."
    )


class NearbyPage(Page[LocationSummary]):
    nearest_m: float | None = Field(
        None,
        description="How far the nearest point matching the filters is, however far and even when none is "
        'within radius_m ("the nearest battery drop-off is 23 km away"). Null when none was found, and on '
        "map-viewport (bbox) answers.",
    )
