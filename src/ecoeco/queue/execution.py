"""Running one delivery of a task: the semantics both executors share.

The executor (Celery worker or embedded loop) hands a delivery to :func:`execute` and acts on the
:class:`Outcome`: ``done``/``duplicate`` → acknowledge; ``retry`` → re-deliver after ``countdown``
seconds; ``dead`` → move to the dead-letter queue with ``reason`` and ``error``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.db.sql import insert_ignore
from ecoeco.queue import metrics
from ecoeco.queue.models import TaskRun
from ecoeco.queue.registry import PermanentError, RetryLater, Task, TaskContext
from ecoeco.queue.taskqueue import QueueBackends

log = structlog.get_logger(__name__)

# A delivery seen this many times without an outcome means the task keeps taking its worker down.
WORKER_LOST_LIMIT = 3
DEFAULT_BACKOFF_S = 2.0
MAX_BACKOFF_S = 120.0  # well below the shortest queue TTL, so a delayed retry never expires


class WorkerLostError(Exception):
    """The message was delivered again and again without finishing (the worker died each time)."""


class JobExpired(Exception):
    """The job waited in its queue longer than the queue's TTL and will not run."""


@dataclass(frozen=True)
class Outcome:
    kind: Literal["done", "duplicate", "retry", "dead"]
    countdown: int = 0
    reason: str = ""
    error: str = ""


def backoff_s(task: Task, attempt: int) -> int:
    """Exponential backoff with jitter (half fixed, half random), whole seconds ≥ 1.

    Whole seconds because RabbitMQ native delayed delivery routes by an integer countdown.
    """
    base = task.retry_backoff_s if task.retry_backoff_s is not None else DEFAULT_BACKOFF_S
    ceiling = min(MAX_BACKOFF_S, base * 2.0 ** (attempt - 1))
    return max(1, int(ceiling / 2 + random.uniform(0, ceiling / 2) + 0.5))  # noqa: S311 - jitter, not crypto


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:2000]


async def _claim(session: AsyncSession, task_id: str, outcome: str, name: str) -> bool:
    """Record ``task_id`` as finished with ``outcome`` in the caller's transaction; False if it was."""
    return await insert_ignore(
        session, TaskRun, {"task_id": task_id, "outcome": outcome, "task": name}, ("task_id", "outcome")
    )


async def execute(
    task: Task,
    backends: QueueBackends,
    *,
    task_id: str,
    kwargs: Mapping[str, Any],
    attempt: int,
    delivery: int = 1,
    enqueued_at: float | None = None,
) -> Outcome:
    """Run one delivery. ``attempt`` counts retries (1 = first try); ``delivery`` counts redeliveries of
    this attempt after worker loss; ``enqueued_at`` (epoch seconds) feeds the latency metric."""
    if delivery > WORKER_LOST_LIMIT:
        lost = WorkerLostError(f"delivered {delivery} times without finishing")
        return await dead_letter(task, backends, task_id, kwargs, attempt, "worker-lost", lost)
    try:
        task.check_arguments(kwargs)
    except TypeError as exc:
        return await dead_letter(task, backends, task_id, kwargs, attempt, "bad-arguments", exc)

    ctx = TaskContext(backends=backends, task_id=task_id, name=task.name, attempt=attempt, kwargs=kwargs)
    running = metrics.TASKS_RUNNING.labels(task.queue.name)
    running.inc()
    started = time.perf_counter()
    reason = "error"
    try:
        try:
            async with asyncio.timeout(task.soft_limit) as limit:
                await task.fn(ctx, **kwargs)
        except TimeoutError:
            if limit.expired():
                reason = "time-limit"
            raise
        if ctx._session is not None:
            if not await _claim(ctx._session, task_id, "done", task.name):
                await ctx._session.rollback()
                metrics.TASKS.labels(task.name, "duplicate").inc()
                return Outcome("duplicate")
            await ctx._session.commit()
    except PermanentError as exc:
        return await dead_letter(task, backends, task_id, kwargs, attempt, "permanent", exc)
    except Exception as exc:
        metrics.TASK_FAILURES.labels(task.name, reason).inc()
        if attempt <= task.max_retries:
            countdown = backoff_s(task, attempt)
            if isinstance(exc, RetryLater):
                countdown = max(countdown, min(int(MAX_BACKOFF_S), math.ceil(exc.after_s)))
            log.warning(
                "task_retry",
                task=task.name,
                task_id=task_id,
                attempt=attempt,
                countdown=countdown,
                error=describe(exc),
            )
            metrics.TASK_RETRIES.labels(task.name).inc()
            metrics.TASKS.labels(task.name, "retry").inc()
            return Outcome("retry", countdown=countdown, reason=reason, error=describe(exc))
        final = "time-limit" if reason == "time-limit" else "retries-exhausted"
        return await dead_letter(task, backends, task_id, kwargs, attempt, final, exc)
    finally:
        running.dec()
        metrics.TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
        if ctx._session is not None:
            await ctx._session.close()
    metrics.TASKS.labels(task.name, "done").inc()
    if enqueued_at is not None:
        metrics.TASK_LATENCY.labels(task.name).observe(max(0.0, time.time() - enqueued_at))
    return Outcome("done")


async def dead_letter(
    task: Task,
    backends: QueueBackends,
    task_id: str,
    kwargs: Mapping[str, Any],
    attempt: int,
    reason: str,
    exc: BaseException,
) -> Outcome:
    """Give up on a task: call its ``on_dead_letter`` hook once per task id, then report ``dead``.

    The hook runs in the same transaction as the record that it ran, so a redelivery after a crash
    neither skips nor repeats it. A failing hook is logged; the message is dead-lettered regardless.
    """
    log.error("task_dead_lettered", task=task.name, task_id=task_id, reason=reason, error=describe(exc))
    metrics.DEAD_LETTERS.labels(task.name, reason).inc()
    metrics.TASKS.labels(task.name, "dead").inc()
    async with backends.db.sessionmaker() as session:
        if await _claim(session, task_id, "dead", task.name) and task.on_dead_letter is not None:
            ctx = TaskContext(backends, task_id, task.name, attempt, kwargs, _session=session)
            try:
                await task.on_dead_letter(ctx, exc)
            except Exception:
                log.exception("dead_letter_hook_failed", task=task.name, task_id=task_id)
                await session.rollback()
                await _claim(session, task_id, "dead", task.name)
        await session.commit()
    return Outcome("dead", reason=reason, error=describe(exc))
