"""``ecoeco up``: what runs inside the API process in embedded mode, as lifespan hooks of the app.

The classifier is built and warmed at start-up, so the first scan does not wait for it; the task executor
and the scheduler run in the process (with a broker configured they are their own processes instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from ecoeco.domains import load_tasks
from ecoeco.queue.beat import Scheduler
from ecoeco.queue.executor import EmbeddedExecutor
from ecoeco.runtime import Backends

Stop = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


async def warm_classifier(app: FastAPI) -> Stop:
    backends: Backends = app.state.backends
    await backends.classifier.warm_up()
    # The classifier goes away with the backends, after every hook (the executor included) has stopped.
    return _nothing


async def run_queue(app: FastAPI) -> Stop:
    backends: Backends = app.state.backends
    if backends.queue.distributed:
        return _nothing  # with a broker, Celery workers and `ecoeco beat` are processes of their own
    tasks = load_tasks(backends.settings)
    executor = EmbeddedExecutor(backends, tasks)
    scheduler = Scheduler(backends, tasks)
    await executor.start()
    beat = asyncio.create_task(scheduler.run(), name="ecoeco-embedded-beat")

    async def stop() -> None:
        scheduler.stop()
        await beat
        await executor.stop()

    return stop


# In start order; they stop in reverse.
HOOKS = (run_queue, warm_classifier)
