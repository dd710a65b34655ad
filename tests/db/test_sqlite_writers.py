"""SQLite writers queue in the process, one at a time, instead of sleeping on SQLite's retry schedule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text

from ecoeco.db.engine import Database
from ecoeco.settings import Settings

pytestmark = pytest.mark.embedded_only

WRITERS = 8


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_dsn)
    async with database.session() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS writers_probe (writer INTEGER, step INTEGER)"))
    yield database
    await database.dispose()


def watch_writers(db: Database) -> dict[str, int]:
    """How many connections are between their first write and their return to the pool, now and at most."""
    seen = {"now": 0, "most": 0}

    def before(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.startswith("INSERT") and not conn.info.get("probe_writing"):
            conn.info["probe_writing"] = True
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])

    def checkin(_dbapi: Any, record: Any) -> None:
        if record.info.pop("probe_writing", False):
            seen["now"] -= 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    event.listen(db.engine.sync_engine, "checkin", checkin)
    return seen


async def test_concurrent_write_transactions_run_one_after_another(db: Database) -> None:
    seen = watch_writers(db)

    async def writer(n: int) -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO writers_probe VALUES (:n, 1)"), {"n": n})
            await asyncio.sleep(0.01)  # the transaction spans awaits, as a request's does
            await session.execute(text("INSERT INTO writers_probe VALUES (:n, 2)"), {"n": n})

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    assert seen["most"] == 1
    async with db.session() as session:
        rows = (
            await session.execute(text("SELECT writer, step FROM writers_probe ORDER BY writer, step"))
        ).all()
    assert [tuple(r) for r in rows] == [(n, step) for n in range(WRITERS) for step in (1, 2)]


async def test_a_failed_write_transaction_lets_the_next_writer_in(db: Database) -> None:
    async def failing() -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO writers_probe VALUES (1, 1)"))
            raise RuntimeError("the request failed after its first write")

    with pytest.raises(RuntimeError):
        await failing()
    # Generous: a writer place never given back would hold this for SQLite's whole busy timeout.
    async with asyncio.timeout(2), db.session() as session:
        await session.execute(text("INSERT INTO writers_probe VALUES (2, 1)"))
    async with db.session() as session:
        rows = (await session.execute(text("SELECT writer FROM writers_probe"))).scalars().all()
    assert rows == [2]
