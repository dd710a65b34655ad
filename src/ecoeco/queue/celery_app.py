"""The Celery app on RabbitMQ quorum queues: its configuration and the publishing side.

Publishing (after commit, the relay, dead letters) needs nothing else; ``ecoeco.queue.celery_worker``
adds the registered tasks to run them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog
from celery import Celery
from kombu import Exchange, Queue

from ecoeco.queue.outbox import Message
from ecoeco.queue.topology import (
    TASK_EXCHANGE,
    WORK_QUEUES,
)
from ecoeco.queue.wire import ENQUEUED_AT

if TYPE_CHECKING:
    from ecoeco.settings import Settings

log = structlog.get_logger(__name__)


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


def create_celery(settings: Settings) -> Celery:
    """A Celery app that publishes (``ecoeco.queue.celery_worker`` makes one that also runs tasks)."""
    app = Celery("ecoeco", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


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
