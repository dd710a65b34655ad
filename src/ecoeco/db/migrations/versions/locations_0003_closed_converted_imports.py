"""Collection points: closed points, converted coordinates, and the last file imported per source.

* ``closed_at``: set when a newer file of the same source no longer lists the point (kept, not searched).
* ``coordinates``: ``published`` (the source's WGS84) or ``converted`` (from its projected x/y).
* ``location_imports``: the last file per source, so ``ecoeco up`` loads a bundled file once. Sources
  already in the database count as operator-imported, so no bundled file ever replaces them.

Plain ``ADD COLUMN`` on SQLite (no batch rebuild), so the R*Tree triggers of ``locations_0001`` stay.

Revision ID: locations_0003
Revises: locations_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "locations_0003"
down_revision = "locations_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "locations",
        sa.Column("coordinates", sa.String(20), nullable=False, server_default="published"),
    )
    op.add_column("locations", sa.Column("closed_at", sa.DateTime(timezone=True)))
    op.create_table(
        "location_imports",
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("file", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bundled", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_location_imports"),
    )
    op.execute(
        "INSERT INTO location_imports (source, file, sha256, bundled, rows, imported_at) "
        "SELECT source, '', '', false, count(*), max(updated_at) FROM locations GROUP BY source"
    )


def downgrade() -> None:
    op.drop_table("location_imports")
    # A plain ALTER TABLE … DROP COLUMN on SQLite (3.35+): no table rebuild, the R*Tree triggers stay.
    op.drop_column("locations", "closed_at")
    op.drop_column("locations", "coordinates")
