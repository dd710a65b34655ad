"""The scheduler (exactly one leader, one run per slot) and the scheduled jobs (real, idempotent)."""

from __future__ import annotations

import datetime as dt
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from ecoeco.core.clock import KST, utcnow
from ecoeco.domains import load_tasks
from ecoeco.queue import enqueue
from ecoeco.queue.beat import SCHEDULES, LeaderLock, Schedule, Scheduler
from ecoeco.queue.deadletters import Filter, dead_letters
from ecoeco.queue.jobs import LEDGER_RETENTION, stats_day
from ecoeco.queue.models import DailyStat, OutboxRow, TaskRun
from ecoeco.runtime import Backends
from tests.support.fixtures_queue import Workers


def at_kst(hour: int, minute: int, day: int = 10) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=KST)


def test_slots_are_in_korean_time() -> None:
    daily = Schedule("d", "sched.stats.daily", minute=0, hour=2, catch_up=dt.timedelta(hours=12))
    hourly = Schedule("h", "sched.cache.cleanup", minute=0, hour=None, catch_up=dt.timedelta(minutes=55))
    assert daily.last_slot(at_kst(2, 0)) == at_kst(2, 0)
    assert daily.last_slot(at_kst(1, 59)) == at_kst(2, 0, day=9)
    assert daily.last_slot(at_kst(13, 5).astimezone(dt.UTC)) == at_kst(2, 0)
    assert hourly.last_slot(at_kst(7, 30)) == at_kst(7, 0)
    assert {(s.task, s.hour, s.minute) for s in SCHEDULES} == {
        ("sched.stats.daily", 2, 0),
        ("sched.cache.cleanup", None, 0),
        ("sched.images.cleanup", 3, 0),
        ("sched.waste.stale_scans", None, 0),
        ("batch.insights.weekly", 9, 0),
    }


async def test_the_leader_lock_is_renewed_and_released_only_by_its_holder(backends: Backends) -> None:
    first, second = LeaderLock(backends.cache, 30), LeaderLock(backends.cache, 30)
    assert await first.acquire()
    assert await first.acquire()  # renewal of its own lease
    assert not await second.acquire()
    await second.release()  # not the holder: changes nothing
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()
    assert not await first.acquire()  # its lease is gone: it cannot take the new holder's
    await first.release()
    assert await second.acquire()


async def test_only_one_scheduler_leads_and_a_slot_runs_once(backends: Backends, workers: Workers) -> None:
    tasks = load_tasks(backends.settings)
    first, second = Scheduler(backends, tasks), Scheduler(backends, tasks)
    now = at_kst(3, 10).astimezone(dt.UTC)
    enqueued = await first.tick(now)
    assert enqueued is not None
    # Tuesday: Monday's weekly reports are still within their catch-up window.
    assert set(enqueued) == {"daily-stats", "cache-cleanup", "image-cleanup", "stale-scans", "weekly-reports"}
    assert await second.tick(now) is None  # the lock is held: the second instance does nothing
    assert await first.tick(now + dt.timedelta(seconds=5)) == enqueued  # same slots, same jobs
    await workers.drain()
    async with backends.db.session() as session:
        keys = set(await session.scalars(select(OutboxRow.key).where(OutboxRow.key.like("sched:%"))))
        stats = set(
            await session.scalars(select(DailyStat.metric).where(DailyStat.day == dt.date(2026, 3, 9)))
        )
    assert len(keys) == len(enqueued)  # one job per slot
    assert {"queue.tasks_enqueued", "queue.tasks_done", "queue.tasks_dead"} <= stats  # the stats job ran
    assert await dead_letters(backends).find(Filter(task="sched.*")) == []
    assert await dead_letters(backends).find(Filter(task="batch.*")) == []

    await first.lock.release()  # the leader goes away: the other takes over
    assert await second.tick(now) == enqueued


async def test_daily_stats_counts_the_previous_korean_day_idempotently(
    backends: Backends, workers: Workers
) -> None:
    slot = dt.datetime.now(KST).replace(hour=2, minute=0, second=0, microsecond=0)
    day, start, end = stats_day(slot)
    assert (end - start) == dt.timedelta(days=1) and start.astimezone(KST).hour == 0
    async with backends.db.session() as session:
        for minutes in (10, 20):  # two tasks enqueued inside that day …
            session.add(
                OutboxRow(
                    id=str(uuid.uuid4()),
                    task="batch.testing.record",
                    routing_key="batch.testing.record",
                    kwargs={"ref": "x"},
                    created_at=start + dt.timedelta(minutes=minutes),
                    published_at=start + dt.timedelta(minutes=minutes),
                )
            )
        session.add(TaskRun(task_id=str(uuid.uuid4()), outcome="dead", task="x", finished_at=start))
    tasks = load_tasks(backends.settings)
    for _ in range(2):  # … and the job run twice for the same slot
        async with backends.db.session() as session:
            await enqueue(session, tasks["sched.stats.daily"], slot=slot.isoformat())
        await workers.drain()
    async with backends.db.session() as session:
        rows = {
            r.metric: r.value for r in await session.scalars(select(DailyStat).where(DailyStat.day == day))
        }
    assert rows["queue.tasks_enqueued"] == 2
    assert rows["queue.tasks_dead"] == 1
    # The same numbers as Prometheus gauges, for the scans dashboard.
    for metric in ("queue.tasks_enqueued", "queue.tasks_dead"):
        assert REGISTRY.get_sample_value("ecoeco_daily_stat", {"metric": metric}) == rows[metric]


async def test_cache_cleanup_prunes_only_expired_ledgers(backends: Backends, workers: Workers) -> None:
    now = utcnow()
    old, fresh = now - LEDGER_RETENTION - dt.timedelta(hours=1), now - dt.timedelta(hours=1)
    async with backends.db.session() as session:
        for when, ref in ((old, "old"), (fresh, "fresh")):
            session.add(
                OutboxRow(
                    id=str(uuid.uuid4()),
                    task="batch.testing.record",
                    key=f"cleanup:{ref}",
                    routing_key="batch.testing.record",
                    kwargs={},
                    created_at=when,
                    published_at=when,
                )
            )
            session.add(TaskRun(task_id=str(uuid.uuid4()), outcome="done", task="x", finished_at=when))
    await backends.cache.set("expiring", "v", ttl=0.01)
    tasks = load_tasks(backends.settings)
    for _ in range(2):
        async with backends.db.session() as session:
            await enqueue(session, tasks["sched.cache.cleanup"], slot=dt.datetime.now(dt.UTC).isoformat())
        await workers.drain()
    async with backends.db.session() as session:
        keys = set(await session.scalars(select(OutboxRow.key).where(OutboxRow.key.like("cleanup:%"))))
        old_runs = await session.scalar(
            select(func.count()).select_from(TaskRun).where(TaskRun.finished_at < fresh)
        )
    assert keys == {"cleanup:fresh"}
    assert old_runs == 0
    assert await backends.cache.get("expiring") is None
