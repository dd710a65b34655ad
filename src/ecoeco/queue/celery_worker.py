"""Distributed execution: a Celery app that runs the registered tasks.

Every task is async; a worker process keeps one event loop per execution thread (with its own backends,
opened by the function the worker command passes in) and each Celery execution slot hands its coroutine
to it. The Celery task around it only translates the shared :class:`~ecoeco.queue.execution.Outcome`
into broker actions.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import structlog
from celery import Celery
from celery import Task as CeleryTask

from ecoeco.queue.celery_app import create_celery
from ecoeco.queue.execution import Outcome, execute
from ecoeco.queue.outbox import Message
from ecoeco.queue.registry import Task
from ecoeco.queue.taskqueue import QueueBackends
from ecoeco.queue.topology import DEAD_LETTER_EXCHANGE, DLQ_ROUTING_KEY
from ecoeco.queue.wire import ATTEMPTS, ENQUEUED_AT, ERROR, FAILED_AT, ORIGINAL_KEY, REASON
from ecoeco.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")
OpenBackends = Callable[[Settings], QueueBackends]
_ThreadState = tuple[asyncio.AbstractEventLoop, QueueBackends, int]  # its loop, its backends, its pid


class AsyncBridge:
    """Runs a task's coroutine on an event loop owned by the calling execution thread.

    Each pool thread (or prefork child) gets its own loop and its own backends on first use: running
    in the calling thread avoids handing every task to another thread and back. The process id is
    checked so a forked child never reuses its parent's loop or connections. Time limits: the soft one
    cancels the coroutine (``execute``); Celery's hard ``time_limit`` kills a prefork child whose code
    blocks the loop.
    """

    def __init__(self, settings: Settings, open_backends: OpenBackends) -> None:
        self.settings = settings
        self.open_backends = open_backends
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[tuple[asyncio.AbstractEventLoop, QueueBackends]] = []

    def run(self, fn: Callable[[QueueBackends], Awaitable[T]]) -> T:
        state: tuple[asyncio.AbstractEventLoop, QueueBackends, int] | None = getattr(
            self._local, "state", None
        )
        if state is None or state[2] != os.getpid():
            loop, backends = asyncio.new_event_loop(), self.open_backends(self.settings)
            state = self._local.state = (loop, backends, os.getpid())
            with self._lock:
                self._opened.append((loop, backends))
        loop, backends, _ = state
        return loop.run_until_complete(self._then_publish(fn, backends))

    @staticmethod
    async def _then_publish(fn: Callable[[QueueBackends], Awaitable[T]], backends: QueueBackends) -> T:
        """Run ``fn``, then finish publishing what it enqueued: the loop stops between tasks, and a publish
        left suspended there would hold its outbox rows locked until this thread's next task."""
        try:
            return await fn(backends)
        finally:
            await backends.queue.flush()

    def close(self) -> None:
        """Close every idle thread's backends and loop (call after the pool has stopped)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for loop, backends in opened:
            if loop.is_running():  # a task outlived the pool's shutdown; its thread is a daemon
                log.warning("task_loop_still_running")
                continue
            loop.run_until_complete(backends.aclose())
            loop.close()


def create_worker_app(settings: Settings, tasks: Mapping[str, Task], open_backends: OpenBackends) -> Celery:
    """The app of ``ecoeco worker``: it runs ``tasks``, each thread with backends from ``open_backends``."""
    app = create_celery(settings)
    bridge = AsyncBridge(settings, open_backends)
    app.ecoeco_bridge = bridge  # type: ignore[attr-defined]
    for spec in tasks.values():
        _register(app, spec, bridge)
    return app


def _register(app: Celery, spec: Task, bridge: AsyncBridge) -> None:
    def run(self: CeleryTask[Any, Any], /, **kwargs: Any) -> None:
        request = self.request
        headers: dict[str, Any] = request.headers or {}
        # Quorum queues count redeliveries (worker lost, connection dropped) in x-delivery-count.
        delivery = 1 + int(getattr(request, "x-delivery-count", None) or headers.get("x-delivery-count") or 0)
        enqueued_at = headers.get(ENQUEUED_AT)
        attempt = int(request.retries or 0) + 1

        def call(backends: QueueBackends) -> Awaitable[Outcome]:
            return execute(
                spec,
                backends,
                task_id=str(request.id),
                kwargs=kwargs,
                attempt=attempt,
                delivery=delivery,
                enqueued_at=float(enqueued_at) if enqueued_at is not None else None,
            )

        outcome = bridge.run(call)
        if outcome.kind == "retry":
            raise self.retry(countdown=outcome.countdown, max_retries=None)
        if outcome.kind == "dead":
            publish_dead_letter(
                app,
                Message(
                    str(request.id), spec.name, spec.routing_key, kwargs, float(enqueued_at or time.time())
                ),
                outcome,
                attempt,
            )

    app.task(
        name=spec.name,
        bind=True,
        shared=False,
        typing=False,  # arguments are checked by execute(), which dead-letters bad ones with a reason
        max_retries=None,
        time_limit=int(spec.hard_limit) + 5,  # prefork backstop for code that blocks the event loop
    )(run)


def publish_dead_letter(app: Celery, message: Message, outcome: Outcome, attempts: int) -> None:
    """Put a task on ``dlx``/``dlq`` as a normal task message plus the reason, so replay can re-send it."""
    app.send_task(
        message.task,
        kwargs=message.kwargs,
        task_id=message.id,
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=DLQ_ROUTING_KEY,
        headers={
            ENQUEUED_AT: message.enqueued_at,
            REASON: outcome.reason,
            ERROR: outcome.error,
            ATTEMPTS: attempts,
            ORIGINAL_KEY: message.routing_key,
            FAILED_AT: time.time(),
        },
    )
