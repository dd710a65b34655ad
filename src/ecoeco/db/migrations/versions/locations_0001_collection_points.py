"""Collection points with a spatial index on each backend.

PostgreSQL needs the ``postgis`` and ``pg_trgm`` extensions. This migration creates them (the migration
Job's role must be allowed to: superuser, or PostgreSQL 13+ with the extensions trusted); where the
database admin creates them beforehand, ``IF NOT EXISTS`` makes this a no-op.

SQLite keeps an R*Tree beside the table, filled by triggers. A later batch migration that rebuilds
``locations`` on SQLite drops those triggers and must recreate them.

Revision ID: locations_0001
Revises: base_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "locations_0001"
down_revision = "base_0001"
branch_labels = ("locations",)
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("road_address", sa.String(500)),
        sa.Column("lot_address", sa.String(500)),
        sa.Column("region", sa.String(100)),
        sa.Column("lat", sa.Float(53), nullable=False),
        sa.Column("lon", sa.Float(53), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("category_mask", sa.Integer(), nullable=False),
        sa.Column("hours", sa.JSON()),
        sa.Column("phone", sa.String(200)),
        sa.Column("url", sa.String(1000)),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("search_name", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("search_initials", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_locations"),
        sa.UniqueConstraint("source", "source_id", name="uq_locations_source_source_id"),
    )
    if postgres:
        # Derived from lat/lon so no writer can let the two disagree.
        op.execute(
            "ALTER TABLE locations ADD COLUMN geog geography(Point, 4326) "
            "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED"
        )
        # KNN (<->) and radius (ST_DWithin) on the sphere; the geometry index serves lat/lon boxes.
        op.execute("CREATE INDEX ix_locations_geog ON locations USING gist (geog)")
        op.execute("CREATE INDEX ix_locations_geom ON locations USING gist ((geog::geometry))")
        op.execute("CREATE INDEX ix_locations_search ON locations USING gin (search_text gin_trgm_ops)")
        return
    op.execute("CREATE VIRTUAL TABLE locations_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon)")
    op.execute(
        "CREATE TRIGGER locations_rtree_insert AFTER INSERT ON locations BEGIN "
        "INSERT INTO locations_rtree VALUES (new.id, new.lat, new.lat, new.lon, new.lon); END"
    )
    op.execute(
        "CREATE TRIGGER locations_rtree_update AFTER UPDATE OF lat, lon ON locations BEGIN "
        "UPDATE locations_rtree SET min_lat = new.lat, max_lat = new.lat, min_lon = new.lon, "
        "max_lon = new.lon WHERE id = new.id; END"
    )
    op.execute(
        "CREATE TRIGGER locations_rtree_delete AFTER DELETE ON locations BEGIN "
        "DELETE FROM locations_rtree WHERE id = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS locations_rtree")
    # The triggers go with the table; the extensions stay (other schemas may use them).
    op.drop_table("locations")
