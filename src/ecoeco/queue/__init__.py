"""Tier 3: background tasks. RabbitMQ quorum queues + Celery when distributed, in-process when embedded.

Declaring a task (in a domain's ``tasks.py``, found automatically)::

    from ecoeco.queue import PermanentError, TaskContext, enqueue, task

    async def mark_scan_failed(ctx: TaskContext, exc: BaseException) -> None:
        ...  # ctx.kwargs["scan_id"]; ctx.session commits with the dead-letter record

    @task("ai.waste.analyze", max_retries=3, on_dead_letter=mark_scan_failed)
    async def analyze_scan(ctx: TaskContext, *, scan_id: str) -> None:
        ...

* The name is the routing key ``<queue>.<domain>.<action>``; the first part picks the queue
  (``ai`` → ``q.ai``, ``api``, ``batch``, ``sched``). Arguments are keyword-only and JSON-serialisable.
* ``ctx.backends`` (db, cache, storage, settings), ``ctx.task_id`` (stable across retries),
  ``ctx.attempt`` (1 = first try), ``ctx.kwargs``. ``ctx.session`` is an ``AsyncSession`` committed by
  the framework *together with a record of the task id*: a redelivered or duplicated message can never
  apply those database effects twice. Effects outside the database (storage, HTTP) must be idempotent by
  business id.
* An exception → retry after exponential backoff with jitter (``retry_backoff_s`` base, 2 s default), up
  to ``max_retries``; then the task is dead-lettered (``q.dlq`` / ``queue_dead_letters``) with the reason
  and error, and ``on_dead_letter(ctx, exc)`` runs once (embedded also for a job that waited past its
  queue's TTL, with ``JobExpired``; RabbitMQ expires messages silently, so a domain whose jobs must end
  somehow also sweeps for what vanished, as waste does). ``raise PermanentError(...)`` skips the retries;
  ``raise RetryLater(..., after_s=…)`` makes the next attempt wait at least that long.
  Running past the queue's soft time limit cancels the task (a ``time-limit`` failure).

Enqueueing, inside the request's transaction (``SessionDep``)::

    await enqueue(session, analyze_scan, scan_id=str(scan.id), key=f"scan:{scan.id}")

writes a transactional-outbox row. Nothing is sent before the transaction commits and nothing if it rolls
back. After commit the task is published with publisher confirms (distributed) or picked up by the
in-process executor (embedded). If the broker is down the row stays and the relay in ``ecoeco beat``
publishes it later; the API call still succeeds. ``key`` makes enqueueing idempotent: the same key again is
the same job (keys are remembered for ``jobs.LEDGER_RETENTION``).

Running: ``ecoeco worker --queue q.ai`` (one per queue), ``ecoeco beat`` (exactly one is active),
``ecoeco mq declare|status``, ``ecoeco dlq list|show|replay|purge``; ``ecoeco up`` runs all of it in-process.
Tests: the ``workers`` fixture (``tests/support/fixtures_queue.py``) runs workers for the current backend
and ``await workers.drain()`` waits until every queued task has finished.
"""

from ecoeco.queue.execution import JobExpired
from ecoeco.queue.outbox import enqueue
from ecoeco.queue.registry import PermanentError, RetryLater, Task, TaskContext, task

__all__ = ["JobExpired", "PermanentError", "RetryLater", "Task", "TaskContext", "enqueue", "task"]
