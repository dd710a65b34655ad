"""Queue work of the waste domain: the scan pipeline on q.ai, image erasure and clean-up."""

from __future__ import annotations

import uuid

import structlog

from ecoeco.queue import PermanentError, TaskContext, task
from ecoeco.storage import ObjectNotFound
from ecoeco.vision.base import VisionPermanentError
from ecoeco.waste import pipeline

log = structlog.get_logger(__name__)


async def _mark_failed(ctx: TaskContext, exc: BaseException) -> None:
    await pipeline.fail(ctx.backends, uuid.UUID(ctx.kwargs["scan_id"]), exc)


@task("ai.waste.analyze", max_retries=3, on_dead_letter=_mark_failed)
async def analyze_scan(ctx: TaskContext, *, scan_id: str) -> None:
    try:
        await pipeline.run(ctx.backends, uuid.UUID(scan_id))
    except (VisionPermanentError, ObjectNotFound) as exc:
        # Retrying cannot bring back a missing image or fix a refused request.
        raise PermanentError(str(exc)) from exc


@task("batch.waste.delete_images", max_retries=5)
async def delete_images(ctx: TaskContext, *, keys: list[str]) -> None:
    # Deleting a missing object succeeds, so a redelivery is harmless.
    for key in keys:
        await ctx.backends.storage.delete(key)
    log.info("images_deleted", count=len(keys))
