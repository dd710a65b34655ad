"""The few statements SQLite and PostgreSQL spell differently, and "which database is this?" answered once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgresql(bind: AsyncSession | AsyncConnection) -> bool:
    dialect = bind.get_bind().dialect if isinstance(bind, AsyncSession) else bind.dialect
    return dialect.name == "postgresql"


def insert(
    bind: AsyncSession | AsyncConnection, model: type[DeclarativeBase]
) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` with ``on_conflict_do_nothing``/``on_conflict_do_update``, on either database."""
    return postgresql.insert(model) if is_postgresql(bind) else sqlite.insert(model)


async def insert_ignore(
    session: AsyncSession, model: type[DeclarativeBase], values: dict[str, Any], conflict: tuple[str, ...]
) -> bool:
    """Insert one row unless ``conflict`` columns already match a row; True if it was inserted."""
    stmt = insert(session, model).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    result: CursorResult[Any] = await session.execute(stmt)  # type: ignore[assignment]
    return result.rowcount == 1
