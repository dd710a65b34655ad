"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from ecoeco.db.base import Base
from ecoeco.db.engine import Database
from ecoeco.domains import import_all_models
from ecoeco.settings import Settings

# Database-only objects, created by migrations on purpose and kept out of the portable models:
# the PostGIS column and the GiST / trigram indexes of locations (PostgreSQL), the R*Tree tables (SQLite);
# and the table the queue tests create in the same worker's database when they ran first.
DATABASE_ONLY = {"geom", "ix_locations_geom", "ix_locations_search", "spatial_ref_sys", "queue_test_effects"}


def _diff(conn: Connection) -> list[Any]:
    import_all_models()
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return [d for d in compare_metadata(context, Base.metadata) if not _database_only(d)]


def _database_only(diff: Any) -> bool:
    names = {getattr(part, "name", None) for part in (diff if isinstance(diff, tuple) else ())}
    return bool(names & DATABASE_ONLY) or any(n and "rtree" in n for n in names if isinstance(n, str))


async def test_models_and_migrations_agree(settings: Settings) -> None:
    db = Database(settings.database_dsn)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
    finally:
        await db.dispose()
    assert diff == [], "\n".join(map(str, diff))
