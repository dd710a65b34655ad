"""Engine and session factory for both backends (SQLite embedded, PostgreSQL distributed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from ecoeco.db.sql import is_sqlite


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the API read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_before_savepoint(conn: Connection, _name: str | None) -> None:
    # The sqlite3 module opens a transaction only before INSERT/UPDATE/DELETE, so a SAVEPOINT can be the
    # first statement: SQLite then starts the transaction with it, and releasing it COMMITS everything,
    # whatever the session does afterwards (a failed scan intake kept its row). Begin one first: still
    # deferred, so the write lock is taken, waiting its turn, by the first write as before.
    if not conn.connection.dbapi_connection._connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        # pool_timeout as PostgreSQL's: a request that cannot get a connection soon is answered 503.
        engine = create_async_engine(url, echo=echo, pool_timeout=5, connect_args={"timeout": 5})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _begin_before_savepoint)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per checkout (a dozen per scan). A connection that died
        # with the server is detected on use, its pool invalidated, and the request answered 503.
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=5,
        # Fail fast when PostgreSQL is unreachable instead of hanging a request; no JIT: our queries
        # are short index lookups, and JIT compiling a plan costs more than running it.
        connect_args={"timeout": 3, "server_settings": {"jit": "off"}} if "asyncpg" in url else {},
    )


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def sync_engine(self) -> Engine:
        return self.engine.sync_engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block succeeds, rolls back otherwise."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
