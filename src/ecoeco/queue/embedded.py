"""``ecoeco up``: run the task executor and the scheduler inside the API process (embedded mode)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from ecoeco.queue.beat import Scheduler
from ecoeco.queue.executor import EmbeddedExecutor
from ecoeco.queue.registry import load_task_modules
from ecoeco.runtime import Backends


async def lifespan_hook(app: FastAPI) -> Callable[[], Awaitable[None]]:
    backends: Backends = app.state.backends
    if backends.queue.distributed:
        # With a broker configured, Celery workers and `ecoeco beat` run as their own processes.
        async def nothing() -> None:
            return None

        return nothing
    tasks = load_task_modules(backends.settings)
    executor = EmbeddedExecutor(backends, tasks)
    scheduler = Scheduler(backends, tasks)
    await executor.start()
    beat = asyncio.create_task(scheduler.run(), name="ecoeco-embedded-beat")

    async def stop() -> None:
        scheduler.stop()
        await beat
        await executor.stop()

    return stop
