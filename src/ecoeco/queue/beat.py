"""The scheduler ("Beat"): exactly one instance enqueues the periodic jobs.

Instead of Celery Beat's local schedule file we run a small scheduler shared by both modes:

* a leader lock in the cache (Redis when distributed), renewed atomically, so a second instance does
  nothing while the first lives, and takes over within the lock's TTL when it dies;
* each due run is enqueued through the outbox with the key ``sched:<name>:<slot>``, so even two leaders
  (e.g. a lock lost to a long GC pause) or a restart inside the slot cannot enqueue a run twice, and a
  run missed while no scheduler was up is caught up within ``catch_up``;
* the leader also sweeps the outbox, publishing rows whose immediate publish failed (broker down).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from ecoeco.cache import Cache
from ecoeco.core.aio import wait_event
from ecoeco.core.clock import KST, utcnow
from ecoeco.queue.outbox import enqueue
from ecoeco.queue.registry import Task
from ecoeco.queue.taskqueue import QueueBackends

log = structlog.get_logger(__name__)

LOCK_KEY = "queue:beat:leader"
TICK_S = 5.0
RELAY_GRACE_S = 5.0  # leave fresh rows to the publish that follows their commit


@dataclass(frozen=True)
class Schedule:
    """Runs ``task`` at ``minute`` past every hour, or at ``hour``:``minute`` KST each day, or only on
    ``weekday`` (0 = Monday) at that time."""

    name: str
    task: str
    minute: int
    hour: int | None
    catch_up: dt.timedelta
    weekday: int | None = None

    def last_slot(self, now: dt.datetime) -> dt.datetime:
        """The latest scheduled time ≤ ``now`` (aware, KST)."""
        local = now.astimezone(KST)
        slot = local.replace(minute=self.minute, second=0, microsecond=0)
        if self.hour is None:
            return slot if slot <= local else slot - dt.timedelta(hours=1)
        slot = slot.replace(hour=self.hour)
        slot = slot if slot <= local else slot - dt.timedelta(days=1)
        if self.weekday is not None:
            slot -= dt.timedelta(days=(slot.weekday() - self.weekday) % 7)
        return slot


SCHEDULES: tuple[Schedule, ...] = (
    Schedule("daily-stats", "sched.stats.daily", minute=0, hour=2, catch_up=dt.timedelta(hours=12)),
    # A whole hour: a scheduler that (re)starts at :56 still runs this hour's clean-up instead of
    # skipping it (it is idempotent per slot, so running late is harmless).
    Schedule("cache-cleanup", "sched.cache.cleanup", minute=0, hour=None, catch_up=dt.timedelta(hours=1)),
    Schedule("image-cleanup", "sched.images.cleanup", minute=0, hour=3, catch_up=dt.timedelta(hours=12)),
    Schedule("stale-scans", "sched.waste.stale_scans", minute=0, hour=None, catch_up=dt.timedelta(hours=1)),
    # On q.batch: a long job, resumable; a whole day of catch-up since missing a week is worse than late.
    Schedule(
        "weekly-reports", "batch.insights.weekly", minute=0, hour=9, weekday=0, catch_up=dt.timedelta(days=1)
    ),
)


class LeaderLock:
    """A lease in the cache, taken only when free and renewed or released only by its holder, each
    atomically (compare-and-set): an instance whose lease ran out cannot take it back from the new one."""

    def __init__(self, cache: Cache, ttl_s: float) -> None:
        self.cache = cache
        self.ttl_s = ttl_s
        self.token = uuid.uuid4().hex

    async def acquire(self) -> bool:
        if await self.cache.set(LOCK_KEY, self.token, ttl=self.ttl_s, only_if_absent=True):
            return True
        return await self.cache.compare_and_set(LOCK_KEY, self.token, self.token, ttl=self.ttl_s)

    async def release(self) -> None:
        await self.cache.compare_and_set(LOCK_KEY, self.token, None)


class Scheduler:
    def __init__(
        self,
        backends: QueueBackends,
        tasks: Mapping[str, Task],
        schedules: tuple[Schedule, ...] = SCHEDULES,
        *,
        tick_s: float = TICK_S,
        lock_ttl_s: float = 30.0,
    ) -> None:
        self.backends = backends
        self.tasks = tasks
        self.schedules = schedules
        self.tick_s = tick_s
        self.lock = LeaderLock(backends.cache, lock_ttl_s)
        self._stop = asyncio.Event()

    async def tick(self, now: dt.datetime | None = None) -> dict[str, str] | None:
        """Enqueue every schedule's latest slot; None when another instance leads.

        Returns schedule name → task id (an earlier id when that slot was already enqueued).
        """
        if not await self.lock.acquire():
            return None
        now = now or utcnow()
        enqueued: dict[str, str] = {}
        async with self.backends.db.session() as session:
            for schedule in self.schedules:
                slot = schedule.last_slot(now)
                if now - slot > schedule.catch_up:
                    continue
                enqueued[schedule.name] = await enqueue(
                    session,
                    self.tasks[schedule.task],
                    key=f"sched:{schedule.name}:{slot.isoformat()}",
                    slot=slot.isoformat(),
                )
        if self.backends.queue.distributed:
            await self.backends.queue.relay(older_than_s=RELAY_GRACE_S)
        return enqueued

    async def run(self) -> None:
        """Tick until :meth:`stop`; a failing tick (database down) is logged and retried."""
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.warning("beat_tick_failed", error=f"{type(exc).__name__}: {exc}")
            await wait_event(self._stop, self.tick_s)
        await self.lock.release()

    def stop(self) -> None:
        self._stop.set()
