"""The queue as the rest of the process sees it: ``Backends.queue``.

After a transaction with ``enqueue`` commits, the new tasks' messages arrive here: in distributed mode
they are published to RabbitMQ at once, from memory (in the background, so the request is not held up,
and a broker outage only delays them until the relay's next sweep), and their rows are stamped
``published_at`` in batches; in embedded mode the in-process executor is woken.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from sqlalchemy import func, select

from ecoeco.cache import Cache
from ecoeco.core.aio import wait_event
from ecoeco.db.engine import Database
from ecoeco.queue import metrics
from ecoeco.queue.models import OutboxRow
from ecoeco.queue.outbox import Message, register_dispatcher, relay_pending, stamp_published
from ecoeco.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = structlog.get_logger(__name__)

PUBLISH_THREADS = 4
# After a failed publish, commits leave their tasks to the relay's sweep for this long instead of each
# waiting on a broker that is down.
PUBLISH_PAUSE_S = 5.0
# Confirmed publishes are stamped in one UPDATE per this interval rather than one transaction each. Far
# below the relay's grace (beat.RELAY_GRACE_S), so the sweep does not send them again meanwhile.
STAMP_EVERY_S = 0.05


class QueueBackends(Protocol):
    """What the queue needs of the process' backends (``ecoeco.runtime.Backends``, one level up).

    Tasks get the whole object the executor was given as ``ctx.backends``; the queue itself only ever
    touches these parts, so it never imports the runtime that is built on top of it.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def cache(self) -> Cache: ...

    @property
    def queue(self) -> TaskQueue: ...

    async def aclose(self) -> None: ...


class TaskQueue:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._celery: Celery | None = None
        self._wakers: list[Callable[[], None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        # Blocking broker calls get their own threads: a broker outage must not tie up the default
        # executor that storage and other request work rely on.
        self._threads: ThreadPoolExecutor | None = None
        self._paused_until = 0.0
        self._unstamped: list[str] = []
        # Published from memory and not stamped yet: this process' relay leaves them alone meanwhile.
        self._in_flight: set[str] = set()
        self._stamp_now = asyncio.Event()
        self._stamper: asyncio.Task[None] | None = None
        register_dispatcher(db.sync_engine, self._committed)

    @property
    def distributed(self) -> bool:
        return bool(self.settings.broker_url)

    def celery(self) -> Celery:
        """A publishing-only Celery app (created on first use; workers build their own)."""
        if self._celery is None:
            from ecoeco.queue.celery_app import create_celery

            self._celery = create_celery(self.settings)
        return self._celery

    def add_waker(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` after each commit that enqueued something; returns the function that unsubscribes."""
        self._wakers.append(wake)
        return lambda: self._wakers.remove(wake)

    def _committed(self, messages: list[Message]) -> None:
        for wake in self._wakers:
            wake()
        if not self.distributed or time.monotonic() < self._paused_until:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # committed outside an event loop: the relay's sweep will publish them
            return
        # Now, not once the task starts: a sweep may come first.
        self._in_flight.update(m.id for m in messages)
        self._track(loop.create_task(self._publish_committed(messages)))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _publish_committed(self, messages: list[Message]) -> None:
        ids = {m.id for m in messages}
        try:
            published = await self._publish(messages)
        except Exception as exc:  # broker trouble: the rows stay, the relay's sweep publishes them
            log.warning("outbox_publish_failed", error=f"{type(exc).__name__}: {exc}")
            published = []
        self._in_flight -= ids - set(published)
        self._unstamped.extend(published)
        if not published:
            return
        if self._stamper is None or self._stamper.done():
            self._stamper = asyncio.get_running_loop().create_task(self._stamp_batch())
            self._track(self._stamper)

    async def _stamp_batch(self) -> None:
        # Until none are left: publishes confirmed while a batch is being written join the next one (the
        # caller starts no second stamper while this one runs).
        while self._unstamped:
            await wait_event(self._stamp_now, STAMP_EVERY_S)
            ids, self._unstamped = self._unstamped, []
            try:
                async with self.db.session() as session:
                    await stamp_published(session, ids)
            except Exception as exc:  # database trouble: the sweep publishes them again, the ledger dedups
                log.warning("outbox_stamp_failed", error=f"{type(exc).__name__}: {exc}", rows=len(ids))
            finally:
                self._in_flight.difference_update(ids)

    async def relay(self, *, older_than_s: float = 0) -> int:
        """Publish committed, unpublished tasks older than ``older_than_s`` (the relay's sweep)."""
        try:
            async with self.db.sessionmaker() as session:
                return await relay_pending(
                    session, self._publish, older_than_s=older_than_s, skip=set(self._in_flight)
                )
        except Exception as exc:  # database or broker trouble: rows stay, the next sweep retries
            log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")
            return 0

    async def _publish(self, messages: Sequence[Message]) -> list[str]:
        from ecoeco.queue.celery_app import publish_messages

        if self._threads is None:
            self._threads = ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="ecoeco-publish")
        loop = asyncio.get_running_loop()
        published = await loop.run_in_executor(self._threads, publish_messages, self.celery(), messages)
        if len(published) < len(messages):
            self._paused_until = time.monotonic() + PUBLISH_PAUSE_S
        return published

    async def pending(self) -> int:
        """Committed tasks not yet handed to the broker (distributed) or not yet finished (embedded)."""
        async with self.db.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
            )
        metrics.OUTBOX_PENDING.set(count or 0)
        return int(count or 0)

    async def flush(self, within_s: float = 60.0) -> None:
        """Wait for the publishes started by recent commits, and stamp their rows now."""
        deadline = time.monotonic() + within_s
        while self._background and (left := deadline - time.monotonic()) > 0:
            self._stamp_now.set()
            await asyncio.wait(set(self._background), timeout=left)
        self._stamp_now.clear()

    async def aclose(self) -> None:
        await self.flush(within_s=5)
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        if self._celery is not None:
            self._celery.close()
