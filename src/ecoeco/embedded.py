"""``ecoeco up``: what runs inside the API process in embedded mode, as lifespan hooks of the app.

The classifier is built and warmed in the background from start-up on: the API answers meanwhile (loading
the model took about half of a cold start), and a scan arriving before it is ready waits for the same load.
The task executor and the scheduler run in the process (with a broker configured they are their own
processes instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI

from ecoeco.domains import load_tasks
from ecoeco.queue.beat import Scheduler
from ecoeco.queue.executor import EmbeddedExecutor
from ecoeco.runtime import Backends

Stop = Callable[[], Awaitable[None]]
log = structlog.get_logger(__name__)


async def _nothing() -> None:
    return None


async def warm_classifier(app: FastAPI) -> Stop:
    backends: Backends = app.state.backends

    async def warm() -> None:
        started = time.perf_counter()
        # Built in a thread too: importing the model runtime would otherwise stall the event loop.
        classifier = await asyncio.to_thread(lambda: backends.classifier)
        await classifier.warm_up()
        # The moment scans stop waiting for the model (operators, and benchmarks/bench_startup.py, watch it).
        log.info(
            "classifier_ready", backend=classifier.backend, seconds=round(time.perf_counter() - started, 2)
        )

    warming = asyncio.create_task(warm(), name="ecoeco-warm-classifier")

    async def stop() -> None:
        # Waited for, not cancelled: its thread cannot be interrupted, and the backends close after this.
        # The classifier goes away with the backends, after every hook (the executor included) has stopped.
        with contextlib.suppress(Exception):
            await warming

    return stop


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
