"""Alembic environment. Migrations always run through :func:`ecoeco.db.migrate.upgrade`,
which hands us an open connection, so this file has a single online path."""

from __future__ import annotations

from alembic import context

from ecoeco.db.base import Base
from ecoeco.domains import import_all_models

import_all_models()

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `ecoeco migrate`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
