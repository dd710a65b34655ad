"""The embedded executor's own life cycle (its task semantics are tested with the Celery workers')."""

from __future__ import annotations

import asyncio

import pytest

from ecoeco.domains import load_tasks
from ecoeco.queue.executor import EmbeddedExecutor
from ecoeco.runtime import Backends


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
