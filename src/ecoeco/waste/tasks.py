"""Queue work of the waste domain: the scan pipeline on q.ai, image erasure, its scheduled jobs (the
03:00 image clean-up, the hourly sweep of scans whose job vanished) and its daily numbers."""

from __future__ import annotations

import datetime as dt
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import utcnow
from ecoeco.queue import PermanentError, RetryLater, TaskContext, task
from ecoeco.queue.jobs import stats_provider
from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.vision.base import VisionPermanentError, VisionRetryableError
from ecoeco.waste import live, pipeline, progress, repository

log = structlog.get_logger(__name__)


async def _mark_failed(ctx: TaskContext[Backends], exc: BaseException) -> None:
    scan_id = uuid.UUID(ctx.kwargs["scan_id"])
    await pipeline.fail(ctx.session, scan_id, exc)
    await live.forget(ctx.backends.cache, scan_id)  # the job is over: nothing writes the entry again


@task("ai.waste.analyze", max_retries=3, on_dead_letter=_mark_failed)
async def analyze_scan(ctx: TaskContext[Backends], *, scan_id: str) -> None:
    try:
        await pipeline.run(ctx.backends, uuid.UUID(scan_id))
    except (VisionPermanentError, ObjectNotFound) as exc:
        # Retrying cannot bring back a missing image or fix a refused request.
        raise PermanentError(str(exc)) from exc
    except VisionRetryableError as exc:
        if exc.retry_after is None:
            raise
        raise RetryLater(str(exc), after_s=exc.retry_after) from exc  # the model's server said when


@task("batch.waste.delete_images", max_retries=5)
async def delete_images(ctx: TaskContext[Backends], *, keys: list[str]) -> None:
    # Deleting a missing object succeeds, so a redelivery is harmless.
    for key in keys:
        await ctx.backends.storage.delete(key)
    log.info("images_deleted", count=len(keys))


CLEANUP_BATCH = 500
# Longer than q.ai's message TTL (300 s) plus every retry's backoff: a scan untouched this long has lost
# its job (e.g. it expired in the broker, which calls no hook) and would otherwise spin forever.
STALE_SCAN_AFTER = dt.timedelta(minutes=20)


@stats_provider
async def scan_numbers(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    return await repository.daily_counts(session, start, end)


@task("sched.images.cleanup", max_retries=2)
async def cleanup_images(ctx: TaskContext[Backends], *, slot: str) -> None:
    """03:00 KST: delete raw uploads that became scans (their re-encoded copy is kept) or expired unused."""
    deleted = await drop_finished_uploads(ctx.backends)
    log.info("image_cleanup", slot=slot, deleted=deleted)


async def drop_finished_uploads(backends: Backends) -> int:
    deleted = 0
    while True:
        async with backends.db.session() as session:
            batch = await repository.finished_uploads(session, expired_before=utcnow(), limit=CLEANUP_BATCH)
        # Objects first, then the rows, in a short transaction of their own: a crash in between leaves
        # rows the next run retries, and no write lock is held while the store is busy (SQLite has one).
        for upload in batch:
            await backends.storage.delete(upload.object_key)
        async with backends.db.session() as session:
            for upload in batch:
                await repository.delete_upload(session, upload.id)
        deleted += len(batch)
        if len(batch) < CLEANUP_BATCH:
            return deleted


@task("sched.waste.stale_scans", max_retries=2)
async def sweep_stale_scans(ctx: TaskContext[Backends], *, slot: str) -> None:
    """Hourly: tell users about scans whose job vanished instead of leaving them "processing"."""
    failed = await fail_stale_scans(ctx.backends)
    log.info("stale_scans_failed", slot=slot, failed=failed)


async def fail_stale_scans(backends: Backends) -> int:
    """Fail every scan left untouched past STALE_SCAN_AFTER, each in a transaction of its own: a short
    write that waits its turn on SQLite rather than one long one that other writers time out against."""
    failed = 0
    while True:
        cutoff = utcnow() - STALE_SCAN_AFTER
        async with backends.db.session() as session:
            stale = await repository.stale_scans(session, untouched_since=cutoff, limit=CLEANUP_BATCH)
        for scan_id in stale:
            async with backends.db.session() as session:
                await pipeline.fail(session, scan_id, None)
            await live.forget(backends.cache, scan_id)
            await progress.notify(backends.cache, scan_id)
        failed += len(stale)
        if len(stale) < CLEANUP_BATCH:
            return failed
