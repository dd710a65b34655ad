"""Distributed execution: a Celery app on RabbitMQ quorum queues that runs the registered tasks.

Every task is async; a worker process keeps one event loop in a background thread (with its own
``Backends``) and each Celery execution slot hands its coroutine to it. The Celery task around it only
translates the shared :class:`~ecoeco.queue.execution.Outcome` into broker actions.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from celery import Celery
from celery import Task as CeleryTask
from kombu import Exchange, Queue

from ecoeco.queue.execution import Outcome, execute
from ecoeco.queue.outbox import Message
from ecoeco.queue.registry import Task
from ecoeco.queue.topology import (
    DEAD_LETTER_EXCHANGE,
    DLQ_ROUTING_KEY,
    TASK_EXCHANGE,
    WORK_QUEUES,
)
from ecoeco.queue.wire import ATTEMPTS, ENQUEUED_AT, ERROR, FAILED_AT, ORIGINAL_KEY, REASON

if TYPE_CHECKING:
    from ecoeco.runtime import Backends
    from ecoeco.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")


TASKS_EXCHANGE = Exchange(TASK_EXCHANGE, type="topic", durable=True)


def celery_config(settings: Settings) -> dict[str, Any]:
    if not settings.broker_url:
        raise ValueError("the Celery app needs ECOECO_BROKER_URL")
    return {
        "broker_url": settings.broker_url,
        # Wait for the broker's confirm on every publish: a publish that returns was accepted.
        "broker_transport_options": {"confirm_publish": True},
        "broker_connection_timeout": 4,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_heartbeat": 20,
        "broker_native_delayed_delivery_queue_type": "quorum",
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        # Ack only after the task returned; a lost worker's message goes back to the queue.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # An exception escaping our wrapper means we could not record the outcome: let RabbitMQ
        # dead-letter the message rather than ack (lose) it.
        "task_acks_on_failure": False,
        "task_acks_on_timeout": False,
        "task_default_exchange": TASK_EXCHANGE,
        "task_default_exchange_type": "topic",
        "task_create_missing_queues": False,
        # A task's routing key is its name; RabbitMQ's bindings pick the queue.
        "task_routes": (_route,),
        # Queues are declared (and drift reported) by declare_topology, never by Celery.
        "task_queues": [
            Queue(
                q.name,
                TASKS_EXCHANGE,
                routing_key=q.binding or "",
                queue_arguments=q.arguments(),
                no_declare=True,
            )
            for q in WORK_QUEUES
        ],
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        "worker_detect_quorum_queues": True,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "worker_disable_rate_limits": True,
        "worker_max_tasks_per_child": 1_000,
        "worker_max_memory_per_child": 512_000,  # KiB
        "enable_utc": True,
    }


def _route(name: str, *_: Any, **__: Any) -> dict[str, str]:
    return {"exchange": TASK_EXCHANGE, "exchange_type": "topic", "routing_key": name}


class AsyncBridge:
    """Runs a task's coroutine on an event loop owned by the calling execution thread.

    Each pool thread (or prefork child) gets its own loop and its own ``Backends`` on first use: running
    in the calling thread avoids handing every task to another thread and back. The process id is
    checked so a forked child never reuses its parent's loop or connections. Time limits: the soft one
    cancels the coroutine (``execute``); Celery's hard ``time_limit`` kills a prefork child whose code
    blocks the loop.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[tuple[asyncio.AbstractEventLoop, Backends]] = []

    def run(self, fn: Callable[[Backends], Awaitable[T]]) -> T:
        state: tuple[asyncio.AbstractEventLoop, Backends, int] | None = getattr(self._local, "state", None)
        if state is None or state[2] != os.getpid():
            from ecoeco.runtime import Backends

            loop, backends = asyncio.new_event_loop(), Backends.from_settings(self.settings)
            state = self._local.state = (loop, backends, os.getpid())
            with self._lock:
                self._opened.append((loop, backends))
        loop, backends, _ = state
        return loop.run_until_complete(fn(backends))

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


def create_celery(settings: Settings, tasks: Mapping[str, Task] | None = None) -> Celery:
    """The Celery app; with ``tasks`` it can also run them (workers), without it only publish."""
    app = Celery("ecoeco", set_as_current=False)
    app.conf.update(celery_config(settings))
    if tasks:
        bridge = AsyncBridge(settings)
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

        def call(backends: Backends) -> Awaitable[Outcome]:
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


def publish_messages(app: Celery, messages: Sequence[Message]) -> list[str]:
    """Publish in order with confirms; stop at the first failure and return what the broker accepted."""
    published: list[str] = []
    with app.producer_or_acquire() as producer:
        for message in messages:
            try:
                app.send_task(
                    message.task,
                    kwargs=message.kwargs,
                    task_id=message.id,
                    exchange=TASK_EXCHANGE,
                    routing_key=message.routing_key,
                    countdown=message.countdown or None,
                    headers={ENQUEUED_AT: message.enqueued_at},
                    producer=producer,
                    # Celery would otherwise build a safe repr of the arguments for its logs on every
                    # publish, a third of the publishing CPU; argument names are enough there.
                    argsrepr="()",
                    kwargsrepr=", ".join(message.kwargs),
                )
            except Exception as exc:  # broker down, queue full (nack), …: the rest waits for the relay
                log.warning(
                    "publish_failed",
                    task=message.task,
                    task_id=message.id,
                    error=f"{type(exc).__name__}: {exc}",
                    unpublished=len(messages) - len(published),
                )
                break
            published.append(message.id)
    return published
