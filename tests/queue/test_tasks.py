"""Behaviour of enqueue + execution, identical on both backends (embedded executor, Celery on RabbitMQ)."""

from __future__ import annotations

import uuid

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from ecoeco.app import create_app
from ecoeco.embedded import run_queue
from ecoeco.queue import enqueue
from ecoeco.queue.execution import MAX_BACKOFF_S, Outcome, execute
from ecoeco.queue.models import OutboxRow, TaskRun
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from tests.queue import sample_tasks as t
from tests.support.fixtures_queue import Workers
from tests.support.waiting import eventually


def ref() -> str:
    return uuid.uuid4().hex


async def test_runs_once_after_commit(backends: Backends, workers: Workers) -> None:
    r = ref()
    async with backends.db.session() as session:
        task_id = await enqueue(session, t.record, ref=r)
    await workers.drain()
    assert await t.effects(backends.db, r) == 1
    async with backends.db.session() as session:
        assert await session.scalar(select(TaskRun.outcome).where(TaskRun.task_id == task_id)) == "done"


async def test_rollback_drops_the_task(backends: Backends, workers: Workers) -> None:
    r = ref()

    async def failing_request() -> None:
        async with backends.db.session() as session:
            await enqueue(session, t.record, ref=r)
            raise RuntimeError("business logic failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    await workers.drain()
    assert await t.effects(backends.db, r) == 0
    async with backends.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxRow)) == 0


async def test_same_key_is_one_job(backends: Backends, workers: Workers) -> None:
    r = ref()
    async with backends.db.session() as session:
        first = await enqueue(session, t.record, ref=r, key=f"record:{r}")
    async with backends.db.session() as session:
        second = await enqueue(session, t.record, ref=r, key=f"record:{r}")
        third = await enqueue(session, t.record, ref=r, key=f"record:{r}")
    assert first == second == third
    await workers.drain()
    assert await t.effects(backends.db, r) == 1


async def test_transient_failures_are_retried(backends: Backends, workers: Workers) -> None:
    r = ref()
    async with backends.db.session() as session:
        await enqueue(session, t.flaky, ref=r, failures=2)
    await workers.drain()
    assert await t.effects(backends.db, r) == 1
    # Failed attempts roll back their effects; only the successful third attempt's record stays.
    assert [await t.effects(backends.db, f"attempt:{r}:{n}") for n in (1, 2, 3)] == [0, 0, 1]


async def test_a_failure_that_says_when_to_retry_waits_at_least_that_long(backends: Backends) -> None:
    async def first_try(after_s: float) -> Outcome:
        kwargs = {"ref": ref(), "after_s": after_s}
        return await execute(t.rate_limited, backends, task_id=str(uuid.uuid4()), kwargs=kwargs, attempt=1)

    # The task's own backoff before its first retry is 1 s (base 1 s).
    slow = await first_try(30)
    assert (slow.kind, slow.countdown) == ("retry", 30)
    assert (await first_try(0.2)).countdown == 1  # never sooner than the backoff
    assert (await first_try(10_000)).countdown == MAX_BACKOFF_S  # nor later than its ceiling


async def test_bad_arguments_are_refused_at_enqueue(backends: Backends) -> None:
    async with backends.db.session() as session:
        with pytest.raises(TypeError):
            await enqueue(session, t.record, reference="typo")
        with pytest.raises(TypeError):
            await enqueue(session, t.record, ref=object())


def test_task_names_follow_the_routing_convention() -> None:
    from ecoeco.queue import task

    async def fn(ctx: object) -> None:
        return None

    for bad in ("waste.analyze", "video.waste.analyze", "ai.batch.analyze", "AI.waste.analyze"):
        with pytest.raises(ValueError, match="task name"):
            task(bad)
    assert t.record.queue.name == "q.batch"


@pytest.mark.embedded_only
async def test_ecoeco_up_runs_tasks_and_the_scheduler_in_process(settings: Settings) -> None:
    application = create_app(settings, hooks=(run_queue,))
    async with LifespanManager(application):
        backends: Backends = application.state.backends
        await t.create_effects_table(backends.db)
        r = ref()
        async with backends.db.session() as session:
            await enqueue(session, t.record, ref=r)

        async def recorded() -> bool:
            return await t.effects(backends.db, r) == 1

        await eventually(recorded, what="the embedded executor ran the task")
        async with backends.db.session() as session:  # the scheduler enqueued this hour's clean-up
            keys = set(await session.scalars(select(OutboxRow.key).where(OutboxRow.key.like("sched:%"))))
        assert any((k or "").startswith("sched:cache-cleanup:") for k in keys)
