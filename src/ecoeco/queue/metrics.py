"""Prometheus metrics of the queue. Worker processes serve them on ``--metrics-port``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
QUEUE_READY = Gauge(
    "ecoeco_queue_messages_ready", "Messages waiting in a queue (passive declare).", ["queue"]
)
QUEUE_CONSUMERS = Gauge("ecoeco_queue_consumers", "Consumers attached to a queue.", ["queue"])
QUEUE_UNACKED = Gauge(
    "ecoeco_queue_unacked", "Messages this worker holds unacknowledged (reserved or running).", ["queue"]
)
OUTBOX_PENDING = Gauge("ecoeco_outbox_pending", "Committed tasks not yet confirmed by the broker.")
