"""Embedded execution: the outbox table is the queue and an asyncio loop in the API process works it.

Same semantics as the Celery workers: a claimed row carries a lease (the "unacked" state); a process that
dies mid-task leaves the lease to expire and the row is delivered again; retries wait with the same
backoff; dead letters go to ``queue_dead_letters`` (embedded ``q.dlq``) after the task's hook ran once;
a row that waited longer than its queue's TTL is dead-lettered as ``expired``; per-queue concurrency
mirrors the distributed pools.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ecoeco.core.aio import wait_event
from ecoeco.core.clock import utcnow
from ecoeco.queue.execution import JobExpired, Outcome, dead_letter, execute
from ecoeco.queue.models import DeadLetterRow, OutboxRow
from ecoeco.queue.outbox import _epoch
from ecoeco.queue.registry import Task
from ecoeco.queue.taskqueue import QueueBackends
from ecoeco.queue.topology import WORK_QUEUES, queue_for_routing_key

log = structlog.get_logger(__name__)

POLL_S = 1.0
LEASE_MARGIN_S = 30.0
EMBEDDED_CONCURRENCY = 4  # one process shares the machine with the API: cap every queue's slots


class EmbeddedExecutor:
    def __init__(self, backends: QueueBackends, tasks: Mapping[str, Task], *, poll_s: float = POLL_S) -> None:
        self.backends = backends
        self.tasks = tasks
        self.poll_s = poll_s
        self._limits = {q.name: min(q.concurrency, EMBEDDED_CONCURRENCY) for q in WORK_QUEUES}
        self._busy = dict.fromkeys(self._limits, 0)
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        # The last claim may have left due rows unclaimed (slots full, or a full page): a finishing task
        # then claims again at once. Otherwise new rows arrive with a commit's wake-up, or retries come
        # due, which the next poll finds: a claim per finished task would mostly find nothing.
        self._left_behind = False
        self._loop_task: asyncio.Task[None] | None = None
        self._unsubscribe = backends.queue.add_waker(self._wake.set)

    @property
    def running(self) -> int:
        return len(self._running)

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="ecoeco-embedded-executor")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming, give running tasks ``grace_s`` seconds, cancel the rest and release their rows."""
        self._unsubscribe()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._running:
            _, late = await asyncio.wait(self._running.values(), timeout=grace_s)
            for pending in late:
                pending.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            async with self.backends.db.session() as session:
                await session.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(list(self._running))).values(lease_until=None)
                )

    async def _loop(self) -> None:
        while True:
            try:
                claimed = await self._claim()
            except Exception as exc:  # database trouble: keep the loop alive and try again
                log.warning("embedded_claim_failed", error=f"{type(exc).__name__}: {exc}")
                claimed = []
            for row in claimed:
                self._running[row.id] = asyncio.create_task(self._process(row))
            if not (claimed and self._left_behind):
                await wait_event(self._wake, self.poll_s)
                self._wake.clear()

    async def _claim(self) -> list[OutboxRow]:
        free = {q: self._limits[q] - self._busy[q] for q in self._limits}
        if not any(free.values()):
            return []
        now = utcnow()
        claimed: list[OutboxRow] = []
        page = sum(free.values()) * 2
        async with self.backends.db.session() as session:
            candidates = (
                await session.scalars(
                    select(OutboxRow)
                    .where(
                        OutboxRow.published_at.is_(None),
                        OutboxRow.available_at <= now,
                        or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
                    )
                    .order_by(OutboxRow.available_at)
                    .limit(page)
                )
            ).all()
            self._left_behind = len(candidates) == page
            for row in candidates:
                queue = queue_for_routing_key(row.routing_key).name
                if row.id in self._running:
                    continue
                if free.get(queue, 0) <= 0:
                    self._left_behind = True
                    continue
                task = self.tasks.get(row.task)
                lease = (task.hard_limit if task else 60.0) + LEASE_MARGIN_S
                won = await session.execute(
                    update(OutboxRow)
                    .where(
                        OutboxRow.id == row.id,
                        OutboxRow.published_at.is_(None),
                        or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
                    )
                    .values(
                        lease_until=now + dt.timedelta(seconds=lease), deliveries=OutboxRow.deliveries + 1
                    )
                    .execution_options(synchronize_session=False)
                )
                if won.rowcount == 1:  # type: ignore[attr-defined]
                    # The UPDATE counted it; changing the loaded row would flush the same count again.
                    set_committed_value(row, "deliveries", row.deliveries + 1)
                    free[queue] -= 1
                    self._busy[queue] += 1
                    claimed.append(row)
        return claimed

    async def _process(self, row: OutboxRow) -> None:
        queue = queue_for_routing_key(row.routing_key)
        try:
            task = self.tasks.get(row.task)
            waited = (utcnow() - row.available_at).total_seconds()
            if task is None:
                outcome = Outcome("dead", reason="unknown-task", error=f"no task named {row.task!r}")
            elif queue.ttl_s is not None and waited > queue.ttl_s:
                # Like a message RabbitMQ expires, except that here the task's hook hears of it (a scan
                # must not wait forever for a job that will never run).
                expired = JobExpired(f"waited {waited:.0f}s > TTL {queue.ttl_s}s")
                outcome = await dead_letter(
                    task, self.backends, row.id, row.kwargs, row.attempts + 1, "expired", expired
                )
            else:
                outcome = await execute(
                    task,
                    self.backends,
                    task_id=row.id,
                    kwargs=row.kwargs,
                    attempt=row.attempts + 1,
                    delivery=row.deliveries - row.attempts,
                    enqueued_at=_epoch(row.created_at),
                )
            await self._record(row, outcome)
        except Exception:
            # Could not record the outcome (database down?): the lease expires and the row runs again.
            log.exception("embedded_task_crashed", task=row.task, task_id=row.id)
        finally:
            self._busy[queue.name] -= 1
            self._running.pop(row.id, None)
            if self._left_behind:
                self._wake.set()

    async def _record(self, row: OutboxRow, outcome: Outcome) -> None:
        now = utcnow()
        values: dict[str, Any] = {"lease_until": None}
        if outcome.kind == "retry":
            self._left_behind = True  # claim again when it finishes: a retry may be due at once
            values |= {
                "attempts": row.attempts + 1,
                "available_at": now + dt.timedelta(seconds=outcome.countdown),
                "last_error": outcome.error,
            }
        else:
            values["published_at"] = now
        async with self.backends.db.session() as session:
            await session.execute(update(OutboxRow).where(OutboxRow.id == row.id).values(**values))
            if outcome.kind == "dead":
                session.add(
                    DeadLetterRow(
                        id=row.id,
                        task=row.task,
                        routing_key=row.routing_key,
                        kwargs=row.kwargs,
                        reason=outcome.reason,
                        error=outcome.error,
                        attempts=row.attempts + 1,
                        enqueued_at=row.created_at,
                        failed_at=now,
                    )
                )
