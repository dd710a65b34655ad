"""Queue workers for the current backend, for tests that run tasks end to end.

``workers`` (needs ``app``): embedded → the in-process executor on the app's backends; distributed → a
real Celery worker (threads pool, all work queues) on the test run's RabbitMQ vhost, in this process.
``await workers.drain()`` returns once every enqueued task has finished (including retries waiting for
their backoff) and raises TimeoutError with what was still pending otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any

import amqp
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from fastapi import FastAPI
from kombu import Connection
from kombu.transport.native_delayed_delivery import MAX_LEVEL, level_name

from ecoeco.domains import load_tasks
from ecoeco.queue.celery_worker import create_worker_app
from ecoeco.queue.executor import EmbeddedExecutor
from ecoeco.queue.topology import DLQ, WORK_QUEUES, declare_topology, queue_depths
from ecoeco.runtime import Backends
from tests.support.waiting import eventually

DELAYED_QUEUES = tuple(level_name(level) for level in range(MAX_LEVEL + 1))
WORK_QUEUE_NAMES = tuple(q.name for q in WORK_QUEUES)


@dataclass
class Workers:
    backends: Backends
    executor: EmbeddedExecutor | None = None
    celery: Celery | None = None
    history: list[str] = field(default_factory=list)

    async def _busy(self) -> str | None:
        """What is still outstanding, or None when everything is finished."""
        pending = await self.backends.queue.pending()
        if self.executor is not None:
            running = self.executor.running
            return f"{pending} pending, {running} running" if pending or running else None
        if pending:
            # Stands in for the relay sweep of `ecoeco beat`, which tests do not run.
            await self.backends.queue.relay(older_than_s=1)
            return f"{pending} unpublished outbox rows"
        url = self.backends.settings.broker_url
        assert url
        depths = await asyncio.to_thread(queue_depths, url, WORK_QUEUE_NAMES + DELAYED_QUEUES)
        ready = {d.name: d.ready for d in depths if d.ready}
        held = len(worker_state.reserved_requests)
        return f"ready {ready}, held by worker {held}" if ready or held else None

    async def drain(self, within_s: float = 60.0) -> None:
        quiet = 0

        async def settled() -> bool:
            nonlocal quiet
            state = await self._busy()
            self.history.append(state or "idle")
            quiet = quiet + 1 if state is None else 0
            return quiet >= 2  # idle twice in a row: nothing was in transit between the two looks

        try:
            await eventually(settled, within_s=within_s, every_s=0.1, what="queue drained")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last look: {self.history[-1]}") from None


@pytest.fixture
async def workers(app: FastAPI) -> AsyncIterator[Workers]:
    async with running_workers(app) as running:
        yield running


@contextlib.asynccontextmanager
async def running_workers(app: FastAPI) -> AsyncIterator[Workers]:
    """What the ``workers`` fixture runs, for tests that start workers later (after an outage)."""
    backends: Backends = app.state.backends
    tasks = load_tasks(backends.settings)
    if not backends.queue.distributed:
        executor = EmbeddedExecutor(backends, tasks, poll_s=0.2)
        await executor.start()
        try:
            yield Workers(backends, executor=executor)
        finally:
            await executor.stop()
        return
    url = backends.settings.broker_url
    assert url
    await asyncio.to_thread(declare_topology, url)
    # The vhost is shared by one xdist worker's tests: start from empty queues.
    await asyncio.to_thread(_purge, url)
    celery = create_worker_app(backends.settings, tasks, Backends.from_settings)
    with ExitStack() as stack:
        worker = await asyncio.to_thread(stack.enter_context, _worker(celery))
        # The worker's event loop sleeps until its next timer (up to 10 s) before it notices a stop
        # request; a frequent no-op timer makes teardown take a fraction of a second.
        worker.hub.call_repeatedly(0.2, _tick)
        running = Workers(backends, celery=celery)
        try:
            yield running
        finally:
            # Let work the test did not wait for finish while its backends still exist: not only the
            # tasks running now, but messages still on their way and the tasks they enqueue (a scan's
            # reward), which would otherwise write while the next test's truncation holds its locks.
            with contextlib.suppress(TimeoutError):
                await running.drain(within_s=10)
            await asyncio.to_thread(stack.close)
    # Its loops belong to the worker's threads, not to this test's running loop.
    await asyncio.to_thread(celery.ecoeco_bridge.close)  # type: ignore[attr-defined]
    await asyncio.to_thread(_purge, url)


def _purge(url: str) -> None:
    with Connection(url, connect_timeout=5) as conn:
        channel: Any = conn.channel()
        for name in (*WORK_QUEUE_NAMES, *DELAYED_QUEUES, DLQ):
            try:
                channel.queue_purge(name)
            except amqp.exceptions.NotFound:  # delayed queues exist once a worker has started
                channel = conn.channel()


def _tick() -> None:
    return None


def _worker(celery: Celery) -> AbstractContextManager[Any]:
    return start_worker(
        celery,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        queues=list(WORK_QUEUE_NAMES),
        shutdown_timeout=30,
    )
