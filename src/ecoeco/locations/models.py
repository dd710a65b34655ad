"""Collection points (recycling-compensation sites, refill shops, drop boxes …).

The spatial index is not part of this metadata because it differs per backend and is owned by the
migration: on PostgreSQL a generated ``geom geometry(Point, 4326)`` column with a GiST index, on
SQLite the ``locations_rtree`` R*Tree kept in step by triggers. ``lat``/``lon`` are the source of truth.

A point its source stops listing is closed (``closed_at``), not deleted: it stays readable by id for history
and drops out of every list and search.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoeco.db.base import Base, TimestampMixin


class Kind(StrEnum):
    RECYCLING_COMPENSATION = "recycling_compensation"  # 자원순환가게: recyclables for points or cash
    REVERSE_VENDING = "reverse_vending"  # 무인회수기: an unattended machine for bottles and cans
    ZERO_WASTE_SHOP = "zero_waste_shop"  # 제로웨이스트/리필 가게
    DROP_BOX = "drop_box"  # public bins: batteries, lamps, clothing …
    OTHER = "other"


class CoordinateOrigin(StrEnum):
    PUBLISHED = "published"  # WGS84 latitude/longitude as the source gives them
    CONVERTED = "converted"  # computed by us from the source's projected x/y (ecoeco.locations.projection)


class Location(TimestampMixin, Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("source", "source_id", name="uq_locations_source_source_id"),)

    # An integer key: SQLite's R*Tree can only index integer ids.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    road_address: Mapped[str | None] = mapped_column(String(500))
    lot_address: Mapped[str | None] = mapped_column(String(500))
    region: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float(53))
    lon: Mapped[float] = mapped_column(Float(53))
    coordinates: Mapped[str] = mapped_column(
        String(20), default=CoordinateOrigin.PUBLISHED.value, server_default=CoordinateOrigin.PUBLISHED.value
    )
    kind: Mapped[str] = mapped_column(String(40))
    # Bits of ecoeco.locations.categories.Category: "accepts all of these" is one integer test.
    category_mask: Mapped[int] = mapped_column(Integer, default=0)
    # none_as_null: unknown hours are SQL NULL, not the JSON text "null".
    hours: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    phone: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(1000))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Normalised keys for Korean-aware search (ecoeco.locations.text).
    search_name: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    search_initials: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None]


class LocationImport(Base):
    """The last file imported per source: lets ``ecoeco up`` skip a bundled file it has loaded already, and
    keeps a bundled file from overwriting a source an operator has imported a newer file of."""

    __tablename__ = "location_imports"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    file: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    bundled: Mapped[bool] = mapped_column(Boolean)
    rows: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime]
