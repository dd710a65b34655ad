"""Root of the migration tree. Every domain keeps its own Alembic branch off this revision
(``branch_labels`` = the domain), so domains can evolve their schemas independently;
``ecoeco migrate`` upgrades all heads.

Revision ID: base_0001
Revises:
"""

from __future__ import annotations

revision = "base_0001"
down_revision = None
branch_labels = ("base",)
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
