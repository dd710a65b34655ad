"""The RabbitMQ topology as code (the queues, bindings and limits README.md's "Background tasks" lists)
and the command that declares or verifies it.

Choices behind it:

* Work queues overflow with ``reject-publish``, not ``drop-head``: with publisher confirms a full queue
  nacks the publish, the outbox row stays unpublished and the relay tries again later, so an accepted task
  is never silently dropped. ``reject-publish`` is also what quorum queues require for ``at-least-once``
  dead-lettering (the default ``at-most-once`` can lose a message that is being dead-lettered while the
  target is unavailable).
* ``q.dlq`` overflows with ``drop-head``: when it is full we keep the newest failures. It has no TTL and no
  dead-letter exchange of its own; the > 100 alert fires long before 10,000.
* ``x-delivery-limit`` bounds redeliveries after worker loss (quorum queues count them), so a message that
  kills its worker every time ends in ``q.dlq`` instead of looping. Workers dead-letter earlier themselves
  (see ``execution.WORKER_LOST_LIMIT``) so the failure reason and the domain's hook are kept; the broker's
  limit is the backstop.
* Quorum queues on RabbitMQ 3.10 have no priorities, so none are declared.
* Arguments (not policies) carry the settings so a fresh vhost is complete after one ``declare``; changing
  one later means a new queue or a policy, and ``declare`` reports such drift instead of crashing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import amqp
from kombu import Connection

TASK_EXCHANGE = "tasks"
DEAD_LETTER_EXCHANGE = "dlx"
DLQ = "q.dlq"
DLQ_ROUTING_KEY = "dlq"
DELIVERY_LIMIT = 5
DLQ_ALERT_THRESHOLD = 100


@dataclass(frozen=True)
class QueueSpec:
    """A queue and how its workers run.

    ``pool``: ``threads`` for I/O-bound work (vision API calls, geocoding) where a slot mostly waits;
    ``prefork`` for CPU-bound work (reports, imports) so it uses every core and leaking children are
    recycled (``max-tasks/memory-per-child``). Time limits stay below RabbitMQ's 30 min consumer timeout.
    """

    name: str
    binding: str | None
    ttl_s: int | None
    max_length: int
    overflow: str
    pool: str = "threads"
    concurrency: int = 4
    prefetch_multiplier: int = 1
    soft_time_limit_s: float = 60.0
    time_limit_s: float = 90.0
    dead_letter: bool = True

    @property
    def prefix(self) -> str:
        return self.name.removeprefix("q.")

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-max-length": self.max_length,
            "x-overflow": self.overflow,
        }
        if self.ttl_s is not None:
            args["x-message-ttl"] = self.ttl_s * 1000
        if self.dead_letter:
            args["x-dead-letter-exchange"] = DEAD_LETTER_EXCHANGE
            args["x-dead-letter-routing-key"] = DLQ_ROUTING_KEY
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-delivery-limit"] = DELIVERY_LIMIT
        return args


WORK_QUEUES: tuple[QueueSpec, ...] = (
    # Prefetch 1 per slot: a slow vision call never holds other scans in a worker's buffer.
    QueueSpec(
        "q.ai", "ai.#", 300, 5_000, "reject-publish", concurrency=8, soft_time_limit_s=120, time_limit_s=150
    ),
    QueueSpec(
        "q.api",
        "api.#",
        300,
        2_000,
        "reject-publish",
        concurrency=4,
        prefetch_multiplier=4,
        soft_time_limit_s=20,
        time_limit_s=30,
    ),
    QueueSpec(
        "q.batch",
        "batch.#",
        3_600,
        1_000,
        "reject-publish",
        pool="prefork",
        concurrency=2,
        soft_time_limit_s=1_200,
        time_limit_s=1_500,
    ),
    QueueSpec(
        "q.sched",
        "sched.#",
        3_600,
        500,
        "reject-publish",
        pool="prefork",
        concurrency=1,
        soft_time_limit_s=1_200,
        time_limit_s=1_500,
    ),
)
DLQ_SPEC = QueueSpec(DLQ, None, None, 10_000, "drop-head", dead_letter=False)
ALL_QUEUES: tuple[QueueSpec, ...] = (*WORK_QUEUES, DLQ_SPEC)
QUEUE_PREFIXES = frozenset(q.prefix for q in WORK_QUEUES)


def queue_spec(name: str) -> QueueSpec:
    for spec in ALL_QUEUES:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown queue {name!r}; choose from {', '.join(q.name for q in ALL_QUEUES)}")


def queue_for_routing_key(routing_key: str) -> QueueSpec:
    return queue_spec("q." + routing_key.split(".", 1)[0])


@dataclass(frozen=True)
class DeclareResult:
    name: str
    status: str  # "ok" (declared or already equal) or "drift"
    detail: str = ""


def declare_topology(url: str, *, connect_timeout: float = 5.0) -> list[DeclareResult]:
    """Declare exchanges, queues and bindings; report (don't raise on) queues whose arguments differ."""
    results: list[DeclareResult] = []
    with Connection(url, connect_timeout=connect_timeout) as conn:
        conn.ensure_connection(max_retries=3)
        channel: Any = conn.channel()
        channel.exchange_declare(TASK_EXCHANGE, "topic", durable=True, auto_delete=False)
        channel.exchange_declare(DEAD_LETTER_EXCHANGE, "topic", durable=True, auto_delete=False)
        results += [
            DeclareResult(f"exchange {TASK_EXCHANGE}", "ok"),
            DeclareResult(f"exchange {DEAD_LETTER_EXCHANGE}", "ok"),
        ]
        for spec in ALL_QUEUES:
            try:
                channel.queue_declare(spec.name, durable=True, auto_delete=False, arguments=spec.arguments())
            except amqp.exceptions.PreconditionFailed as exc:
                # The broker closed the channel; report the difference and carry on with a new one.
                results.append(DeclareResult(spec.name, "drift", str(exc.reply_text)))
                channel = conn.channel()
                continue
            exchange, key = (
                (TASK_EXCHANGE, spec.binding) if spec.binding else (DEAD_LETTER_EXCHANGE, DLQ_ROUTING_KEY)
            )
            channel.queue_bind(spec.name, exchange, key)
            results.append(DeclareResult(spec.name, "ok", f"{exchange} {key}"))
        channel.close()
    return results


@dataclass(frozen=True)
class QueueDepth:
    name: str
    ready: int
    consumers: int


def queue_depths(url: str, names: tuple[str, ...] | None = None) -> list[QueueDepth]:
    """Ready messages and consumers per queue, by passive declares (works without the management plugin).

    Unacknowledged counts are not visible over AMQP; each worker exports the messages it holds instead
    (``ecoeco_queue_unacked``), so ready + sum(unacked) is the queue's depth.
    """
    depths = []
    with Connection(url, connect_timeout=3) as conn:
        conn.ensure_connection(max_retries=1)
        channel: Any = conn.channel()
        for name in names or tuple(q.name for q in ALL_QUEUES):
            try:
                ok = channel.queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:
                channel = conn.channel()
                continue
            depths.append(QueueDepth(name, int(ok.message_count), int(ok.consumer_count)))
        channel.close()
    return depths
