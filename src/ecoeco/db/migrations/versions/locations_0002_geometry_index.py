"""PostgreSQL: index points as ``geometry`` instead of ``geography``.

A GiST index on geography cannot be built sorted; on 1,000,000 points its KNN walk read ~200 pages
(2–4 ms) where the sorted-built geometry index reads ~20 (0.1 ms). Distances stay exact: the search
ranks candidates on the sphere (ecoeco.locations.repository). SQLite is unchanged.

Revision ID: locations_0002
Revises: locations_0001
"""

from __future__ import annotations

from alembic import op

revision = "locations_0002"
down_revision = "locations_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_locations_geom")
    op.execute("DROP INDEX ix_locations_geog")
    op.execute("ALTER TABLE locations DROP COLUMN geog")
    op.execute(
        "ALTER TABLE locations ADD COLUMN geom geometry(Point, 4326) "
        "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED"
    )
    op.execute("CREATE INDEX ix_locations_geom ON locations USING gist (geom)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_locations_geom")
    op.execute("ALTER TABLE locations DROP COLUMN geom")
    op.execute(
        "ALTER TABLE locations ADD COLUMN geog geography(Point, 4326) "
        "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED"
    )
    op.execute("CREATE INDEX ix_locations_geog ON locations USING gist (geog)")
    op.execute("CREATE INDEX ix_locations_geom ON locations USING gist ((geog::geometry))")
