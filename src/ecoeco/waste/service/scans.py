"""Scans: intake, the confirmed-photo answer, results and their live progress.

Intake runs in the request: the image is verified, re-encoded and hashed before we answer, so bad input
is refused with a 4xx instead of becoming a failed scan later. A near-identical photo whose result a user
confirmed is answered on the spot (no model call, no job); everything else becomes an ``ai.waste.analyze``
job, enqueued in the same transaction that creates the scan (see ecoeco.waste.tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.aio import wait_event
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import Conflict, NotFound, TooManyRequests, Unprocessable
from ecoeco.db.base import as_utc
from ecoeco.queue import enqueue
from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.vision.images import ImageLimits, PreparedImage, hamming, thumbnail
from ecoeco.waste import live, progress, repository
from ecoeco.waste.models import ConfirmedImage, Feedback, Scan, hash_bands
from ecoeco.waste.progress import Step
from ecoeco.waste.rules import CACHE_MODEL, Verdict, finish
from ecoeco.waste.schemas import ScanError, ScanView, image_url
from ecoeco.waste.service import uploads
from ecoeco.waste.service.feedback import feedback_view
from ecoeco.waste.tasks import analyze_scan, delete_images

# Hamming distance (of 64 bits) under which two photos count as the same picture.
NEAR_DUPLICATE_BITS = 3
# Distinct people who must have confirmed the model's answer for a photo before it is served to others.
SHARE_AFTER_CONFIRMATIONS = 2


@dataclass(frozen=True)
class Intake:
    scan: Scan
    created: bool


async def create_scan(
    session: AsyncSession,
    backends: Backends,
    user_id: uuid.UUID,
    *,
    upload_id: uuid.UUID | None,
    image: bytes | None,
    image_type: str | None,
    question: str | None,
    lang: str,
    idempotency_key: str | None,
) -> Intake:
    if upload_id is None and image is None and not question:
        raise Unprocessable("Send an image, an upload id or a question.", code="scan-empty")
    if upload_id is not None and image is not None:
        raise Unprocessable("Send either an image or an upload id, not both.", code="scan-ambiguous")
    fingerprint = _fingerprint(upload_id, image, question)
    if idempotency_key is not None:
        existing = await repository.get_by_idempotency_key(session, user_id, idempotency_key)
        if existing is not None:
            return Intake(_same_request(existing, fingerprint), created=False)

    original = None
    if upload_id is not None:
        original = await uploads.read_upload(session, backends, user_id, upload_id)
        image, image_type = original.data, original.content_type
    prepared = None
    if image is not None:
        limits = ImageLimits.from_settings(backends.settings)
        prepared = await asyncio.to_thread(limits.prepare, image, declared_type=image_type)

    scan = Scan(
        id=uuid.uuid4(),
        user_id=user_id,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        question=question,
        lang=lang,
        status="queued",
        stage="queued",
        progress=0,
        event_seq=0,
        cache_hit=False,
        image_hash=prepared.phash if prepared else None,
    )
    confirmed = None
    if prepared is not None:
        # Everything slow happens before the first write: on SQLite that write takes the one write lock,
        # held until commit, and every other writer waits for it.
        confirmed = await _confirmed_verdict(session, user_id, prepared)
        scan.image_key = f"scans/{user_id}/{scan.id}.jpg"
        await backends.storage.put(scan.image_key, prepared.data, content_type=prepared.content_type)
    kept = False
    try:
        intake = await _record_intake(session, backends, scan, prepared, original, confirmed)
        kept = intake.created
    finally:
        if scan.image_key is not None and not kept:
            await backends.storage.delete(scan.image_key)  # no scan refers to it
    return intake


async def _record_intake(
    session: AsyncSession,
    backends: Backends,
    scan: Scan,
    prepared: PreparedImage | None,
    original: uploads.TakenUpload | None,
    confirmed: Verdict | None,
) -> Intake:
    if not await repository.insert_scan(session, scan):
        # Only the (user, key) constraint can refuse the row: a concurrent request with the same key
        # won the race, so answer with its scan.
        key = scan.idempotency_key
        existing = await repository.get_by_idempotency_key(session, scan.user_id, key) if key else None
        if existing is None:
            raise Conflict("The scan could not be stored; please retry.", code="scan-conflict")
        return Intake(_same_request(existing, scan.request_hash), created=False)
    if original is not None:
        await uploads.consume(session, original)
        # The original may carry GPS EXIF: gone as soon as this transaction has kept its clean copy.
        await enqueue(session, delete_images, keys=[original.object_key], key=f"upload:{original.id}")
    if prepared is not None:
        preprocessed = Step("preprocessed", {"width": prepared.width, "height": prepared.height})
        if confirmed is not None:
            # A photo someone confirmed before: answered on the spot, the way the worker would finish.
            cache_hit = Step("cache_check", {"hit": True})
            await progress.record(
                session, scan.id, preprocessed, cache_hit, finish(confirmed, lang=scan.lang, cache_hit=True)
            )
            return Intake(scan, created=True)
        await progress.record(session, scan.id, preprocessed, Step("cache_check", {"hit": False}))
    await enqueue(session, analyze_scan, scan_id=str(scan.id), key=f"scan:{scan.id}")
    # Before the commit: the worker hears of the job only after it, so its writes come later.
    await live.remember(backends.cache, scan, "cache_check" if prepared is not None else "queued")
    return Intake(scan, created=True)


def _fingerprint(upload_id: uuid.UUID | None, image: bytes | None, question: str | None) -> str:
    h = hashlib.sha256()
    h.update(str(upload_id).encode())
    h.update(hashlib.sha256(image).digest() if image is not None else b"-")
    h.update((question or "").encode())
    return h.hexdigest()


def _same_request(existing: Scan, fingerprint: str) -> Scan:
    if existing.request_hash != fingerprint:
        # 409, not 422: the request itself is valid; this key is taken (422 is kept for invalid input).
        raise Conflict(
            "This Idempotency-Key was already used with a different request.", code="idempotency-key-reused"
        )
    return existing


async def _confirmed_verdict(
    session: AsyncSession, user_id: uuid.UUID, prepared: PreparedImage
) -> Verdict | None:
    """What was confirmed about a near-identical photo: by this user (their own confirmation or
    correction, served back to them alone), or by enough distinct other people that it is no one person's
    say (see service.feedback.shareable)."""
    near = [
        c
        for c in await repository.confirmed_candidates(session, hash_bands(prepared.phash), user_id=user_id)
        if hamming(c.image_hash, prepared.phash) <= NEAR_DUPLICATE_BITS
    ]
    own = next((c for c in near if c.user_id == user_id), None)
    if own is not None:
        return _cached(own)
    confirmers: dict[tuple[str, str | None, str | None], set[uuid.UUID]] = {}
    for c in near:  # newest first: on a tie the most recent answer wins
        confirmers.setdefault((c.major, c.middle, c.item_id), set()).add(c.user_id)
    needed = SHARE_AFTER_CONFIRMATIONS
    for candidate in near:
        if len(confirmers[(candidate.major, candidate.middle, candidate.item_id)]) >= needed:
            return _cached(candidate)
    return None


def _cached(candidate: ConfirmedImage) -> Verdict:
    return Verdict(
        major=candidate.major,
        middle=candidate.middle,
        item_id=candidate.item_id,
        tags=list(candidate.tags),
        confidence=1.0,
        model=CACHE_MODEL,
    )


async def get_scan(session: AsyncSession, user_id: uuid.UUID, scan_id: uuid.UUID) -> ScanView:
    scan = await repository.get_user_scan(session, user_id, scan_id)
    if scan is None:
        raise NotFound("No such scan.", code="scan-not-found")
    # Feedback is only accepted on a done scan.
    feedback = await repository.get_feedback(session, scan.id) if scan.status == "done" else None
    return to_view(scan, feedback)


async def scan_thumbnail(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, scan_id: uuid.UUID
) -> bytes:
    scan = await repository.get_user_scan(session, user_id, scan_id)
    if scan is None:
        raise NotFound("No such scan.", code="scan-not-found")
    if scan.image_key is None:
        raise NotFound("This scan has no photo.", code="scan-image-not-found")
    try:
        data = await backends.storage.get(scan.image_key)
    except ObjectNotFound as exc:
        raise NotFound("The photo of this scan is no longer kept.", code="scan-image-not-found") from exc
    return await asyncio.to_thread(thumbnail, data)


def to_view(scan: Scan, feedback: Feedback | None = None) -> ScanView:
    error = ScanError(code=scan.error_code, message=scan.error_message or "") if scan.error_code else None
    return ScanView(
        id=scan.id,
        status=scan.status,
        stage=scan.stage,
        progress=scan.progress,
        question=scan.question,
        created_at=scan.created_at,
        completed_at=scan.completed_at,
        cache_hit=scan.cache_hit,
        result=scan.result,
        error=error,
        feedback=feedback_view(feedback) if feedback else None,
        image_url=image_url(scan.id) if scan.image_key else None,
    )


# --- server-sent events -----------------------------------------------------------------------

# Streams wake on notifications; they re-read the database anyway after this long, in case one was lost.
SSE_DB_FALLBACK_S = 1.0
SSE_HEARTBEAT_S = 15.0
SSE_MAX_S = 300.0
# After "done", how long a stream stays open for the reward outcome (the last event) to land.
SSE_REWARD_WAIT_S = 5.0
# Streams one user may hold open at once (per process): the app needs one per scan in progress.
SSE_MAX_PER_USER = 5


@dataclass(frozen=True)
class StreamItem:
    seq: int | None  # None: a heartbeat
    type: str
    data: dict[str, Any]


async def ensure_owner(backends: Backends, user_id: uuid.UUID, scan_id: uuid.UUID) -> None:
    async with backends.db.session() as session:
        if await repository.get_user_scan(session, user_id, scan_id) is None:
            raise NotFound("No such scan.", code="scan-not-found")


def _reward_pending(scan: Scan) -> bool:
    """A scan done moments ago whose reward outcome (ecoeco.rewards) has not been announced yet."""
    if scan.status != "done" or "reward" in (scan.result or {}) or scan.completed_at is None:
        return False
    return (utcnow() - as_utc(scan.completed_at)).total_seconds() < SSE_REWARD_WAIT_S


class _OpenStreams:
    """Event streams open in this process, per user (a process' own count: every replica caps alike)."""

    def __init__(self, _backends: Backends) -> None:
        self.by_user: dict[uuid.UUID, int] = {}


@contextlib.asynccontextmanager
async def stream_slot(backends: Backends, user_id: uuid.UUID) -> AsyncIterator[None]:
    """Hold one of the user's SSE_MAX_PER_USER stream slots for as long as the stream is open."""
    streams = backends.component(_OpenStreams).by_user
    if streams.get(user_id, 0) >= SSE_MAX_PER_USER:
        raise TooManyRequests(
            f"At most {SSE_MAX_PER_USER} event streams may be open at once; close one or poll the scan.",
            retry_after=int(SSE_DB_FALLBACK_S) + 1,
            code="too-many-streams",
        )
    streams[user_id] = streams.get(user_id, 0) + 1
    try:
        yield
    finally:
        streams[user_id] -= 1
        if not streams[user_id]:
            del streams[user_id]


def open_streams(backends: Backends) -> int:
    """Event streams open in this process (all users)."""
    return sum(backends.component(_OpenStreams).by_user.values())


async def stream_events(backends: Backends, scan_id: uuid.UUID, *, after: int) -> AsyncIterator[StreamItem]:
    """Replay events after ``after``, then follow new ones until the scan ends (or a time cap). A done scan
    ends with its reward outcome, awaited for SSE_REWARD_WAIT_S at most. A scan that has already ended
    is replayed and closed at once: nothing more can happen to it."""
    async with backends.db.session() as session:
        scan = await repository.get_scan(session, scan_id)
        if scan is None or (scan.status in progress.TERMINAL and not _reward_pending(scan)):
            for event in await repository.events_after(session, scan_id, after):
                yield StreamItem(event.seq, event.type, event.data)
            return
    last = after
    started = last_sent = time.monotonic()
    done_at: float | None = None
    async with backends.cache.listen(progress.channel(scan_id)) as changed:
        while time.monotonic() - started < SSE_MAX_S:
            changed.clear()  # before reading, so a notification during the read is not lost
            async with backends.db.session() as session:
                fresh = await repository.events_after(session, scan_id, last)
            for event in fresh:
                last = event.seq
                last_sent = time.monotonic()
                yield StreamItem(event.seq, event.type, event.data)
                if event.type in ("failed", progress.REWARD_EVENT):
                    return
                if event.type == "done":
                    done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at > SSE_REWARD_WAIT_S:
                return  # the reward is decided later than a client waits; the collection will say it
            await wait_event(changed, SSE_DB_FALLBACK_S)
            if time.monotonic() - last_sent > SSE_HEARTBEAT_S:
                last_sent = time.monotonic()
                yield StreamItem(None, "heartbeat", {})
