"""Alembic environment. Migrations always run through :func:`ecoeco.db.migrate.upgrade`,
which hands us an open connection, so this file has a single online path. Revisions spell out their
own tables, so no model is imported here (tests/db compares the result with the models); the shared
metadata is still passed for its naming convention, which SQLite's batch table rebuilds rely on."""

from __future__ import annotations

from alembic import context

from ecoeco.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `ecoeco migrate`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
