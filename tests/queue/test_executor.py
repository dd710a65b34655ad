"""The embedded executor's own life cycle (its task semantics are tested with the Celery workers')."""

from __future__ import annotations

import asyncio

import pytest

from ecoeco.domains import load_tasks
from ecoeco.queue import enqueue
from ecoeco.queue.executor import EMBEDDED_CONCURRENCY, EmbeddedExecutor
from ecoeco.runtime import Backends
from tests.queue import sample_tasks
from tests.support.waiting import eventually


@pytest.mark.embedded_only
async def test_stop_ends_even_when_a_wake_up_arrives_with_it(backends: Backends) -> None:
    # A finishing task wakes the claim loop in the same loop iteration as stop() cancels it. A wait that
    # returns the wake-up instead of the cancellation would leave the loop polling and stop() waiting on
    # it for ever (seen as a test teardown hanging until pytest-timeout).
    for _ in range(20):
        executor = EmbeddedExecutor(backends, load_tasks(backends.settings), poll_s=0.2)
        await executor.start()
        await asyncio.sleep(0.01)  # the loop has claimed nothing and waits for a wake-up
        executor._wake.set()
        async with asyncio.timeout(5):
            await executor.stop()


@pytest.mark.embedded_only
async def test_a_backlog_beyond_the_slots_runs_without_waiting_for_the_poll(backends: Backends) -> None:
    # One commit wakes the executor once; the rows its first claim had no slot for are claimed as
    # running tasks finish. A poll too long to reach within the test shows no row waits for it.
    executor = EmbeddedExecutor(backends, load_tasks(backends.settings), poll_s=600)
    await executor.start()
    try:
        async with backends.db.session() as session:
            for n in range(3 * EMBEDDED_CONCURRENCY):
                await enqueue(session, sample_tasks.record, ref=f"backlog-{n}", pause_s=0.02)

        async def drained() -> bool:
            return not (await backends.queue.pending() or executor.running)

        await eventually(drained, within_s=20, every_s=0.05, what="the backlog ran")
    finally:
        await executor.stop()
    done = [await sample_tasks.effects(backends.db, f"backlog-{n}") for n in range(3 * EMBEDDED_CONCURRENCY)]
    assert done == [1] * (3 * EMBEDDED_CONCURRENCY)
