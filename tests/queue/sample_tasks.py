"""Tasks used by the queue tests (and by worker subprocesses via ECOECO_QUEUE_TASK_MODULES).

Their effects go to ``queue_test_effects``, a table that exists only in test databases.
"""

from __future__ import annotations

import asyncio
import os
import signal

from sqlalchemy import text

from ecoeco.db.engine import Database
from ecoeco.queue import PermanentError, RetryLater, TaskContext, task
from ecoeco.runtime import Backends

EFFECTS_DDL = "CREATE TABLE IF NOT EXISTS queue_test_effects (key VARCHAR(200) NOT NULL, task_id VARCHAR(36))"


async def create_effects_table(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(EFFECTS_DDL))


async def effects(db: Database, key: str) -> int:
    async with db.engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM queue_test_effects WHERE key = :k"), {"k": key})
    return int(count or 0)


EFFECT_INSERT = text("INSERT INTO queue_test_effects (key, task_id) VALUES (:k, :t)")


async def _record(ctx: TaskContext[Backends], key: str) -> None:
    await ctx.session.execute(EFFECT_INSERT, {"k": key, "t": ctx.task_id})


@task("batch.testing.record")
async def record(ctx: TaskContext[Backends], *, ref: str, pause_s: float = 0) -> None:
    """Records ``ref``; ``pause_s`` stands for real work, so fault tests find tasks in flight."""
    await asyncio.sleep(pause_s)
    await _record(ctx, ref)


@task("batch.testing.flaky", max_retries=3, retry_backoff_s=1)
async def flaky(ctx: TaskContext[Backends], *, ref: str, failures: int) -> None:
    """Fails on its first ``failures`` attempts."""
    await _record(ctx, f"attempt:{ref}:{ctx.attempt}")
    if ctx.attempt <= failures:
        raise ConnectionError(f"transient failure {ctx.attempt}")
    await _record(ctx, ref)


async def _mark_dead(ctx: TaskContext[Backends], exc: BaseException) -> None:
    await _record(ctx, f"dead:{ctx.kwargs['ref']}:{type(exc).__name__}")


@task("batch.testing.broken", max_retries=2, retry_backoff_s=1, on_dead_letter=_mark_dead)
async def broken(ctx: TaskContext[Backends], *, ref: str) -> None:
    """Fails until the cache holds ``fixed:<ref>``; then records its effect."""
    if await ctx.backends.cache.get(f"fixed:{ref}") is None:
        raise ValueError(f"cannot process {ref}")
    await _record(ctx, ref)


@task("batch.testing.rate_limited", max_retries=1, retry_backoff_s=1)
async def rate_limited(ctx: TaskContext[Backends], *, ref: str, after_s: float) -> None:
    """Fails like a rate-limited API that names its Retry-After."""
    raise RetryLater(f"{ref}: rate limited", after_s=after_s)


@task("batch.testing.reject", on_dead_letter=_mark_dead)
async def reject(ctx: TaskContext[Backends], *, ref: str) -> None:
    raise PermanentError(f"{ref} can never work")


@task("batch.testing.crash", on_dead_letter=_mark_dead)
async def crash(ctx: TaskContext[Backends], *, ref: str) -> None:
    """Takes its worker process down, every time (a poison message of the worst kind)."""
    await ctx.backends.cache.incr(f"crashes:{ref}", ttl=600)
    os.kill(os.getpid(), signal.SIGKILL)


@task("batch.testing.hold", max_retries=0)
async def hold(ctx: TaskContext[Backends], *, ref: str) -> None:
    """Writes its effect, announces it started, then waits for ``release:<ref>`` before committing."""
    await _record(ctx, ref)
    await ctx.backends.cache.incr(f"runs:{ref}", ttl=600)
    while await ctx.backends.cache.get(f"release:{ref}") is None:  # noqa: ASYNC110 - another process sets it
        await asyncio.sleep(0.05)


@task("ai.testing.record")
async def record_ai(ctx: TaskContext[Backends], *, ref: str, pause_s: float = 0) -> None:
    await record.fn(ctx, ref=ref, pause_s=pause_s)


async def effects_like(db: Database, prefix: str) -> dict[str, int]:
    """Effect count per key for every key starting with ``prefix``."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT key, count(*) FROM queue_test_effects WHERE key LIKE :p GROUP BY key"),
            {"p": prefix + "%"},
        )
    return {str(k): int(n) for k, n in rows.all()}
