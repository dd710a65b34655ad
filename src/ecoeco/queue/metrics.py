"""Prometheus metrics of the queue. Worker processes serve them on ``--metrics-port``."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

TASKS = Counter(
    "ecoeco_tasks_total", "Task executions by outcome (done, duplicate, retry, dead).", ["task", "outcome"]
)
TASK_FAILURES = Counter("ecoeco_task_failures_total", "Failed task attempts.", ["task", "reason"])
TASK_RETRIES = Counter("ecoeco_task_retries_total", "Retries scheduled after a failure.", ["task"])
DEAD_LETTERS = Counter("ecoeco_dead_letters_total", "Tasks dead-lettered by a worker.", ["task", "reason"])
TASK_DURATION = Histogram(
    "ecoeco_task_duration_seconds", "Time spent running a task attempt.", ["task"], buckets=_BUCKETS
)
TASK_LATENCY = Histogram(
    "ecoeco_task_latency_seconds", "From enqueue to the end of a successful run.", ["task"], buckets=_BUCKETS
)
TASKS_RUNNING = Gauge("ecoeco_tasks_running", "Task attempts running now in this process.", ["queue"])
DAILY_STAT = Gauge(
    "ecoeco_daily_stat", "The last KST day's numbers of the 02:00 stats job, by metric.", ["metric"]
)
OUTBOX_PENDING = Gauge("ecoeco_outbox_pending", "Committed tasks not yet confirmed by the broker.")


class QueueCollector(Collector):
    """Read at scrape time: every queue's ready messages and consumers (passive declares, so no
    management plugin is needed) and the messages this worker holds unacknowledged.

    AMQP does not report a queue's unacknowledged count; summing ``ecoeco_queue_unacked`` over the
    workers of a queue gives it, because with late acks every reserved or running task is unacked.
    """

    def __init__(self, broker_url: str, queue: str | None = None) -> None:
        self.broker_url = broker_url
        self.queue = queue

    def collect(self) -> Iterable[Metric]:
        from celery.worker import state

        from ecoeco.queue.topology import queue_depths

        ready = GaugeMetricFamily(
            "ecoeco_queue_messages_ready", "Messages waiting in a queue.", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "ecoeco_queue_consumers", "Consumers attached to a queue.", labels=["queue"]
        )
        try:
            depths = queue_depths(self.broker_url)
        except Exception:  # broker down: report nothing rather than fail the whole scrape
            depths = []
        for depth in depths:
            ready.add_metric([depth.name], depth.ready)
            consumers.add_metric([depth.name], depth.consumers)
        yield ready
        yield consumers
        if self.queue is not None:
            unacked = GaugeMetricFamily(
                "ecoeco_queue_unacked", "Messages this worker holds unacknowledged.", labels=["queue"]
            )
            unacked.add_metric([self.queue], len(state.reserved_requests))
            yield unacked
