"""The in-process index of open points: how fresh it stays, and the JSON it answers with."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ecoeco.core.clock import KST, Clock
from ecoeco.db.engine import Database
from ecoeco.locations import bundled
from ecoeco.locations import index as locations_index
from ecoeco.locations import service as locations_service
from ecoeco.locations.categories import from_mask
from ecoeco.locations.importer import SourceFormat
from ecoeco.locations.schemas import LocationSummary, NearbyPage
from ecoeco.settings import Settings


async def _names(db: Database, now: dt.datetime) -> list[str]:
    page = await locations_service.nearby(
        db, locations_service.NearbyParams(lat=37.5, lon=127.0, limit=10), now
    )
    return [f.row.name for f, _ in page.items]


async def test_an_import_by_another_process_shows_within_the_bound(settings: Settings, clock: Clock) -> None:
    # Two Database objects: what this process serves from, and another process' import (`ecoeco locations
    # import` while `ecoeco up` runs, or another pod) that this one is never told about.
    served, other = Database(settings.database_dsn), Database(settings.database_dsn)
    try:

        async def import_elsewhere(rows: str) -> None:
            body = f"id,name,lat,lon\n{rows}".encode()
            await locations_service.import_file(other, body, "shops.csv", SourceFormat.SIMPLE)

        await import_elsewhere("a,가게 A,37.5,127.0\nc,가게 C,37.5,127.01\n")
        now = clock.now()
        assert await _names(served, now) == ["가게 A", "가게 C"]
        assert await locations_index.current(served) is not None  # answered from the index

        # An update in place, a close and an insert: each moves the stamp.
        await import_elsewhere("a,가게 A2,37.5,127.0\nb,가게 B,37.5,127.001\n")
        clock.advance(locations_index.CHECK_EVERY_S)
        assert await _names(served, now) == ["가게 A2", "가게 B"]

        # An update alone: the counts stay, the timestamps move.
        await import_elsewhere("a,가게 A3,37.5,127.0\nb,가게 B,37.5,127.001\n")
        clock.advance(locations_index.CHECK_EVERY_S)
        assert await _names(served, now) == ["가게 A3", "가게 B"]
    finally:
        await served.dispose()
        await other.dispose()


async def test_above_the_ceiling_the_database_answers(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"id,name,lat,lon\na,A,37.5,127.0\nb,B,37.6,127.0\n"
    await locations_service.import_file(db, body, "shops.csv", SourceFormat.SIMPLE)
    monkeypatch.setattr(locations_index, "CEILING", 1)
    assert await locations_index.current(db) is None
    assert await _names(db, dt.datetime.now(dt.UTC)) == ["A", "B"]


async def test_the_json_is_the_models_byte_for_byte(db: Database) -> None:
    await bundled.load(db)
    # A Tuesday noon in Korea: some open, some closed, some with unknown hours.
    now = dt.datetime(2027, 3, 9, 12, 0, tzinfo=KST).astimezone(dt.UTC)
    for lat, lon, radius in [(37.7025454, 126.901133, None), (35.1, 129.0, 20_000.0), (33.2, 126.5, 50.0)]:
        params = locations_service.NearbyParams(lat=lat, lon=lon, radius_m=radius, limit=7)
        page = await locations_service.nearby(db, params, now)
        model = NearbyPage(
            items=[
                LocationSummary(
                    id=f.row.id,
                    name=f.row.name,
                    kind=f.row.kind,
                    road_address=f.row.road_address,
                    lot_address=f.row.lot_address,
                    lat=f.row.lat,
                    lon=f.row.lon,
                    coordinates=f.row.coordinates,
                    categories=from_mask(f.row.category_mask),
                    distance_m=round(f.distance_m, 2),
                    today=today,
                )
                for f, (today, _) in page.items
            ],
            next_cursor=page.next_cursor,
            nearest_m=None if page.nearest_m is None else round(page.nearest_m, 2),
        )
        assert page.json() == model.model_dump_json().encode()
        assert json.loads(page.json())["items"] or radius == 50.0
