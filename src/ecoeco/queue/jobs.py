"""The queue's own scheduled jobs (``ecoeco.queue.beat`` runs them; domains schedule their own tasks).

* ``sched.stats.daily`` (02:00 KST): every registered :func:`stats_provider` (the queue's and each
  domain's) counts its numbers for the previous KST day; the results are upserted into ``daily_stats``.
* ``sched.cache.cleanup`` (hourly): drops expired in-process cache entries and prunes the queue's
  idempotency ledgers past their retention.

Each job receives its schedule ``slot`` (ISO time) and is idempotent for it: running a slot twice leaves
the same state as running it once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import KST, utcnow
from ecoeco.db.sql import insert
from ecoeco.queue import metrics
from ecoeco.queue.models import DailyStat, OutboxRow, TaskRun
from ecoeco.queue.registry import TaskContext, task
from ecoeco.queue.taskqueue import QueueBackends

log = structlog.get_logger(__name__)

# Must exceed every schedule's catch-up window and any client's retry horizon for an idempotency key.
LEDGER_RETENTION = dt.timedelta(days=7)

StatsProvider = Callable[[AsyncSession, dt.datetime, dt.datetime], Awaitable[dict[str, int]]]

_stats_providers: list[StatsProvider] = []


def stats_provider(fn: StatsProvider) -> StatsProvider:
    """Register ``fn(session, start, end) -> {metric: value}`` for the half-open UTC range of a KST day."""
    if fn not in _stats_providers:
        _stats_providers.append(fn)
    return fn


def stats_day(slot: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime]:
    """The KST day before ``slot`` and its bounds in UTC."""
    day = slot.astimezone(KST).date() - dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(), KST).astimezone(dt.UTC)
    return day, start, start + dt.timedelta(days=1)


@stats_provider
async def queue_stats(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    enqueued = await session.scalar(
        select(func.count())
        .select_from(OutboxRow)
        .where(OutboxRow.created_at >= start, OutboxRow.created_at < end)
    )
    outcomes = dict(
        (
            await session.execute(
                select(TaskRun.outcome, func.count())
                .where(TaskRun.finished_at >= start, TaskRun.finished_at < end)
                .group_by(TaskRun.outcome)
            )
        ).all()
    )
    return {
        "queue.tasks_enqueued": int(enqueued or 0),
        "queue.tasks_done": int(outcomes.get("done", 0)),
        "queue.tasks_dead": int(outcomes.get("dead", 0)),
    }


@task("sched.stats.daily", max_retries=3)
async def daily_stats(ctx: TaskContext[QueueBackends], *, slot: str) -> None:
    day, start, end = stats_day(dt.datetime.fromisoformat(slot))
    values: dict[str, int] = {}
    for provider in _stats_providers:
        values |= await provider(ctx.session, start, end)
    for metric, value in values.items():
        stmt = insert(ctx.session, DailyStat).values(
            day=day, metric=metric, value=value, computed_at=utcnow()
        )
        await ctx.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["day", "metric"],
                set_={"value": stmt.excluded.value, "computed_at": stmt.excluded.computed_at},
            )
        )
        metrics.DAILY_STAT.labels(metric).set(value)
    log.info("daily_stats", day=day.isoformat(), **values)


@task("sched.cache.cleanup", max_retries=2)
async def cleanup_caches(ctx: TaskContext[QueueBackends], *, slot: str) -> None:
    cutoff = dt.datetime.fromisoformat(slot).astimezone(dt.UTC) - LEDGER_RETENTION
    swept = ctx.backends.cache.sweep()
    outbox = await ctx.session.execute(
        delete(OutboxRow).where(OutboxRow.published_at.is_not(None), OutboxRow.published_at < cutoff)
    )
    runs = await ctx.session.execute(delete(TaskRun).where(TaskRun.finished_at < cutoff))
    log.info("cache_cleanup", swept=swept, outbox=outbox.rowcount, task_runs=runs.rowcount)  # type: ignore[attr-defined]
