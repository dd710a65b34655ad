"""Engine and session factory for both backends (SQLite embedded, PostgreSQL distributed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from ecoeco.db.sql import is_sqlite

T = TypeVar("T")
# Connections (and threads) of the SQLite read pool. SQLite answers readers in parallel (WAL) and releases
# the GIL while it searches, but most of a read is Python (ranking, rows): 1, 2 and 4 measured the same
# on 2 cores, and fewer threads fight less over the GIL.
SQLITE_READERS = 2


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


def _sqlite_reader_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA query_only=ON")  # a reader never writes, even by mistake
    cursor.close()


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers: Engine | None = None  # SQLite: the read pool (pysqlite), made on first read
        self._read_slots: asyncio.Semaphore | None = None

    async def read(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)``: synchronous Core reads on a pooled connection outside any transaction.

        SQLite: on a plain ``sqlite3`` connection of a small read pool, the whole of ``work`` in one
        worker thread. Through aiosqlite every cursor call is a hop to its thread and back (about four
        per statement), which cost more than the R*Tree searches themselves. PostgreSQL: on the async
        engine's connection (asyncpg needs no thread), in autocommit to save BEGIN and ROLLBACK.

        Never more callers at once than the pool keeps open: past its size SQLAlchemy opens an
        "overflow" connection per checkout and closes it on return, and under 32 concurrent clients that
        churn cost more than the queries. Queueing here costs nothing.
        """
        if self._read_slots is None:
            self._read_slots = asyncio.Semaphore(self._read_pool_size())
        async with self._read_slots:
            if self._readers is not None:
                return await asyncio.to_thread(self._read_sqlite, self._readers, work)
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                return await conn.run_sync(work)

    def _read_pool_size(self) -> int:
        if is_sqlite(self.url):
            url = sqlalchemy.make_url(self.url).set(drivername="sqlite+pysqlite")
            # The slots bound the callers, so the pool never has to open a connection past its size.
            self._readers = sqlalchemy.create_engine(url, pool_size=SQLITE_READERS, max_overflow=0)
            event.listen(self._readers, "connect", _sqlite_reader_pragmas)
            return SQLITE_READERS
        pool = self.engine.pool
        return max(1, pool.size()) if isinstance(pool, QueuePool) else 1

    @staticmethod
    def _read_sqlite(readers: Engine, work: Callable[[Connection], T]) -> T:
        # The sqlite3 module opens transactions only before writes: these SELECTs run in none.
        with readers.connect() as conn:
            return work(conn)

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
        if self._readers is not None:
            self._readers.dispose()
