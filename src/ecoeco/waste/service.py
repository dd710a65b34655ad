"""Waste scans: uploads, intake, results, feedback, history and statistics.

Intake runs in the request: the image is verified, re-encoded and hashed before we answer, so bad input
is refused with a 4xx instead of becoming a failed scan later. A near-identical photo whose result a user
confirmed is answered on the spot (no model call, no job); everything else becomes an ``ai.waste.analyze``
job, enqueued in the same transaction that creates the scan (see ecoeco.waste.tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events as domain_events
from ecoeco.core.errors import Conflict, NotFound, PayloadTooLarge, ProblemError, Unprocessable
from ecoeco.core.pagination import Page, decode_cursor, encode_cursor
from ecoeco.db.base import as_utc, utcnow
from ecoeco.queue import enqueue
from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.storage.base import S3Storage
from ecoeco.waste import progress, repository, uploads
from ecoeco.waste.images import ImageLimits, PreparedImage, hamming, thumbnail
from ecoeco.waste.models import ConfirmedImage, Feedback, Scan, Upload
from ecoeco.waste.rules import Verdict, compose_result, knowledge_base, resolve
from ecoeco.waste.schemas import (
    CategoryCount,
    FeedbackCreate,
    FeedbackView,
    ScanError,
    ScanStats,
    ScanSummary,
    ScanView,
    UploadTarget,
    image_url,
)

log = structlog.get_logger(__name__)

KST = ZoneInfo("Asia/Seoul")
UPLOAD_TTL = timedelta(minutes=15)
# Hamming distance (of 64 bits) under which two photos count as the same picture.
NEAR_DUPLICATE_BITS = 3


# --- uploads ----------------------------------------------------------------------------------


async def create_upload(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, *, content_type: str, size: int
) -> UploadTarget:
    limit = backends.settings.image_max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"Images may be at most {limit} bytes.", code="image-too-large", max_bytes=limit
        )
    upload = Upload(
        id=uuid.uuid4(),
        user_id=user_id,
        content_type=content_type,
        size=size,
        expires_at=utcnow() + UPLOAD_TTL,
        status="pending",
    )
    upload.object_key = f"uploads/{user_id}/{upload.id}"
    await repository.add_upload(session, upload)
    headers = {"Content-Type": content_type}
    storage = backends.storage
    if isinstance(storage, S3Storage):
        url = await asyncio.to_thread(
            storage.presign_put,
            upload.object_key,
            content_type=content_type,
            size=size,
            expires_in=int(UPLOAD_TTL.total_seconds()),
        )
        headers["Content-Length"] = str(size)
    else:
        url = uploads.signed_url(backends.settings.public_url, _secret(backends), _grant(upload))
    return UploadTarget(
        upload_id=upload.id, url=url, headers=headers, expires_at=upload.expires_at, max_bytes=size
    )


async def receive_upload(
    session: AsyncSession,
    backends: Backends,
    upload_id: uuid.UUID,
    *,
    expires: int,
    signature: str,
    content_type: str | None,
    body: AsyncIterator[bytes],
) -> None:
    """The embedded mode's PUT target: verify the signed URL, then store at most ``size`` bytes."""
    upload = await repository.get_upload(session, upload_id, for_update=True)
    if upload is None:
        raise NotFound("No such upload.", code="upload-not-found")
    grant = _grant(upload)
    if expires != grant.expires:
        raise ProblemError("The upload URL is not valid.", status=403, code="upload-signature-invalid")
    uploads.verify(_secret(backends), grant, signature)
    if content_type != upload.content_type:
        raise ProblemError(
            f"This upload URL is for {upload.content_type}.", status=415, code="upload-content-type-mismatch"
        )
    if upload.status != "pending":
        raise Conflict("This upload URL was already used.", code="upload-already-used")
    data = bytearray()
    async for chunk in body:
        data += chunk
        if len(data) > upload.size:
            raise PayloadTooLarge(
                f"This upload URL accepts at most {upload.size} bytes.", code="upload-too-large"
            )
    await backends.storage.put(upload.object_key, bytes(data), content_type=upload.content_type)
    upload.status = "uploaded"


def _grant(upload: Upload) -> uploads.UploadGrant:
    return uploads.UploadGrant(
        upload.id, upload.user_id, upload.content_type, upload.size, int(upload.expires_at.timestamp())
    )


def _secret(backends: Backends) -> str:
    return backends.settings.secret_key.get_secret_value()


async def _take_upload(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, upload_id: uuid.UUID
) -> tuple[bytes, str]:
    upload = await repository.get_upload(session, upload_id, for_update=True)
    # Another user's upload is reported exactly like a missing one: ids must not be probeable.
    if upload is None or upload.user_id != user_id:
        raise NotFound("No such upload.", code="upload-not-found")
    if upload.status == "consumed":
        raise Conflict("This upload was already used for a scan.", code="upload-already-used")
    if upload.expires_at < utcnow():
        raise ProblemError(
            "The upload has expired; upload the image again.", status=410, code="upload-expired"
        )
    try:
        data = await backends.storage.get(upload.object_key)
    except ObjectNotFound as exc:
        raise ProblemError(
            "Nothing was uploaded to this upload URL yet.", status=409, code="upload-missing"
        ) from exc
    if len(data) > upload.size:
        raise PayloadTooLarge("The uploaded image is larger than announced.", code="upload-too-large")
    upload.status = "consumed"
    return data, upload.content_type


# --- scans ------------------------------------------------------------------------------------


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

    if upload_id is not None:
        image, image_type = await _take_upload(session, backends, user_id, upload_id)
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
    if prepared is not None:
        scan.image_key = f"scans/{user_id}/{scan.id}.jpg"
    if not await repository.insert_scan(session, scan):
        # Only the (user, key) constraint can refuse the row: a concurrent request with the same key
        # won the race, so answer with its scan.
        existing = await repository.get_by_idempotency_key(session, user_id, idempotency_key or "")
        if existing is None:
            raise Conflict("The scan could not be stored; please retry.", code="scan-conflict")
        return Intake(_same_request(existing, fingerprint), created=False)
    if prepared is not None:
        await backends.storage.put(scan.image_key or "", prepared.data, content_type=prepared.content_type)
        await _event(session, scan, "preprocessed", width=prepared.width, height=prepared.height)
        if await _answer_from_cache(session, scan, prepared):
            return Intake(scan, created=True)
        await _event(session, scan, "cache_check", hit=False)

    from ecoeco.waste.tasks import analyze_scan  # the task module imports this one

    await enqueue(session, analyze_scan, scan_id=str(scan.id), key=f"scan:{scan.id}")
    return Intake(scan, created=True)


def _fingerprint(upload_id: uuid.UUID | None, image: bytes | None, question: str | None) -> str:
    h = hashlib.sha256()
    h.update(str(upload_id).encode())
    h.update(hashlib.sha256(image).digest() if image is not None else b"-")
    h.update((question or "").encode())
    return h.hexdigest()


def _same_request(existing: Scan, fingerprint: str) -> Scan:
    if existing.request_hash != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was already used with a different request.", code="idempotency-key-reused"
        )
    return existing


async def _event(session: AsyncSession, scan: Scan, stage: str, **data: Any) -> None:
    """Record a stage reached inside the request's own transaction (the scan is not yet visible)."""
    scan.stage = stage
    scan.progress = progress.STAGES[stage]
    scan.event_seq += 1
    if stage in progress.TERMINAL:
        scan.status = stage
    payload = {"stage": stage, "progress": progress.STAGES[stage], **data}
    repository.add_event(session, scan.id, scan.event_seq, progress.event_type(stage), payload)


async def _answer_from_cache(session: AsyncSession, scan: Scan, prepared: PreparedImage) -> bool:
    bands = band_split(prepared.phash)
    for candidate in await repository.confirmed_candidates(session, bands, user_id=scan.user_id):
        if hamming(candidate.image_hash, prepared.phash) > NEAR_DUPLICATE_BITS:
            continue
        verdict = Verdict(
            major=candidate.major,
            middle=candidate.middle,
            item_id=candidate.item_id,
            tags=list(candidate.tags),
            confidence=1.0,
            model="confirmed-cache",
        )
        kb = knowledge_base()
        verdict = resolve(kb, verdict)
        result = compose_result(kb, verdict, lang=scan.lang)
        scan.result = result
        scan.major, scan.middle, scan.item_id = verdict.major, verdict.middle, verdict.item_id
        scan.cache_hit = True
        scan.model = verdict.model
        scan.completed_at = utcnow()
        await _event(session, scan, "cache_check", hit=True)
        await _event(session, scan, "done", result=result)
        return True
    return False


def band_split(phash: str) -> tuple[str, str, str, str]:
    return (phash[0:4], phash[4:8], phash[8:12], phash[12:16])


async def get_scan(session: AsyncSession, user_id: uuid.UUID, scan_id: uuid.UUID) -> ScanView:
    scan = await repository.get_user_scan(session, user_id, scan_id)
    if scan is None:
        raise NotFound("No such scan.", code="scan-not-found")
    feedback = await repository.get_feedback(session, scan.id)
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
        feedback=_feedback_view(feedback) if feedback else None,
        image_url=image_url(scan.id) if scan.image_key else None,
    )


def _feedback_view(feedback: Feedback) -> FeedbackView:
    return FeedbackView(
        correct=feedback.correct,
        item_id=feedback.item_id,
        comment=feedback.comment,
        created_at=feedback.created_at,
    )


# --- server-sent events -----------------------------------------------------------------------

# Streams wake on notifications; they re-read the database anyway after this long, in case one was lost.
SSE_DB_FALLBACK_S = 1.0
SSE_HEARTBEAT_S = 15.0
SSE_MAX_S = 300.0


@dataclass(frozen=True)
class StreamItem:
    seq: int | None  # None: a heartbeat
    type: str
    data: dict[str, Any]


async def ensure_owner(backends: Backends, user_id: uuid.UUID, scan_id: uuid.UUID) -> None:
    async with backends.db.session() as session:
        if await repository.get_user_scan(session, user_id, scan_id) is None:
            raise NotFound("No such scan.", code="scan-not-found")


async def stream_events(backends: Backends, scan_id: uuid.UUID, *, after: int) -> AsyncIterator[StreamItem]:
    """Replay events after ``after``, then follow new ones until the scan ends (or a time cap)."""
    last = after
    started = last_sent = time.monotonic()
    async with backends.cache.listen(progress.channel(scan_id)) as changed:
        while time.monotonic() - started < SSE_MAX_S:
            changed.clear()  # before reading, so a notification during the read is not lost
            async with backends.db.session() as session:
                fresh = await repository.events_after(session, scan_id, last)
            for event in fresh:
                last = event.seq
                last_sent = time.monotonic()
                yield StreamItem(event.seq, event.type, event.data)
                if event.type in progress.TERMINAL:
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), SSE_DB_FALLBACK_S)
            if time.monotonic() - last_sent > SSE_HEARTBEAT_S:
                last_sent = time.monotonic()
                yield StreamItem(None, "heartbeat", {})


# --- feedback ---------------------------------------------------------------------------------


async def submit_feedback(
    session: AsyncSession, user_id: uuid.UUID, scan_id: uuid.UUID, body: FeedbackCreate
) -> FeedbackView:
    scan = await repository.get_user_scan(session, user_id, scan_id)
    if scan is None:
        raise NotFound("No such scan.", code="scan-not-found")
    if scan.status != "done":
        raise Conflict("Feedback can be given once the scan is done.", code="scan-not-done")
    kb = knowledge_base()
    if body.item_id is not None and body.item_id not in kb.items:
        raise Unprocessable(f"Unknown item id {body.item_id!r}.", code="unknown-item")
    if body.correct and body.item_id is not None and body.item_id != scan.item_id:
        raise Unprocessable("A correct answer cannot name a different item.", code="feedback-inconsistent")
    feedback = await repository.save_feedback(
        session,
        Feedback(
            scan_id=scan.id,
            user_id=user_id,
            correct=body.correct,
            item_id=body.item_id,
            comment=body.comment,
            created_at=utcnow(),
            updated_at=utcnow(),
        ),
    )
    await _learn(session, scan, body)
    return _feedback_view(feedback)


async def _learn(session: AsyncSession, scan: Scan, body: FeedbackCreate) -> None:
    """Feed the near-duplicate cache from feedback on a photo scan."""
    await repository.forget_confirmed(session, scan.id)
    if scan.image_hash is None or scan.cache_hit or (not body.correct and body.item_id is None):
        return
    if body.correct:
        if scan.major is None:
            return  # "correct" on an unsure answer confirms nothing
        major, middle, item_id, shared = scan.major, scan.middle, scan.item_id, True
    else:
        item = knowledge_base().items[body.item_id or ""]
        major, middle, item_id, shared = (
            knowledge_base().middles[item.middle].major,
            item.middle,
            item.id,
            False,
        )
    tags = list((scan.result or {}).get("tags", []))
    b = band_split(scan.image_hash)
    await repository.save_confirmed(
        session,
        ConfirmedImage(
            scan_id=scan.id,
            user_id=scan.user_id,
            shared=shared,
            image_hash=scan.image_hash,
            band0=b[0],
            band1=b[1],
            band2=b[2],
            band3=b[3],
            major=major,
            middle=middle,
            item_id=item_id,
            tags=tags,
            created_at=utcnow(),
        ),
    )


# --- history and statistics -------------------------------------------------------------------


async def history(
    session: AsyncSession, user_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Page[ScanSummary]:
    position = decode_cursor(cursor, keys=("created_at", "id"))
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(position["created_at"]), uuid.UUID(position["id"]))
        except (TypeError, ValueError) as exc:
            raise ProblemError("The cursor is not valid.", code="invalid-cursor") from exc
    rows = await repository.list_user_scans(session, user_id, after=after, limit=limit + 1)
    items = [_summary(s) for s in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor({"created_at": last.created_at.isoformat(), "id": str(last.id)})
    return Page[ScanSummary](items=items, next_cursor=next_cursor)


def _summary(scan: Scan) -> ScanSummary:
    title = (scan.result or {}).get("title")
    return ScanSummary(
        id=scan.id,
        status=scan.status,
        created_at=scan.created_at,
        major=scan.major,
        middle=scan.middle,
        item_id=scan.item_id,
        title=title,
        question=scan.question,
        image_url=image_url(scan.id) if scan.image_key else None,
    )


async def stats(session: AsyncSession, user_id: uuid.UUID, *, today: datetime | None = None) -> ScanStats:
    statuses = await repository.status_counts(session, user_id)
    categories = [
        CategoryCount(major=major, middle=middle, count=n)
        for major, middle, n in await repository.category_counts(session, user_id)
    ]
    categories.sort(key=lambda c: (-c.count, c.major or "", c.middle or ""))
    times = await repository.scan_times(session, user_id)
    current, longest = streaks(times, today=today or utcnow())
    return ScanStats(
        total=sum(statuses.values()),
        done=statuses.get("done", 0),
        failed=statuses.get("failed", 0),
        by_category=categories,
        current_streak_days=current,
        longest_streak_days=longest,
        last_scan_at=times[0] if times else None,
    )


def streaks(times: list[datetime], *, today: datetime) -> tuple[int, int]:
    """(current, longest) runs of consecutive Korean calendar days with at least one scan.

    The current streak survives until the end of the day after the last scan.
    """
    days = sorted({t.astimezone(KST).date() for t in times})
    if not days:
        return 0, 0
    longest = run = 1
    for prev, cur in itertools.pairwise(days):
        run = run + 1 if (cur - prev).days == 1 else 1
        longest = max(longest, run)
    today_kst = as_utc(today).astimezone(KST).date()
    current = run if (today_kst - days[-1]).days <= 1 else 0
    return current, longest


# --- account deletion and clean-up ------------------------------------------------------------


@domain_events.subscribe("user.deleted")
async def _erase_user(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Erase a deleted account's scans and uploads now, and its images by a job that runs only if the
    deletion commits (the object store is not part of the transaction)."""
    from ecoeco.waste.tasks import delete_images

    user_id = payload["user_id"]
    keys = await repository.user_image_keys(session, user_id)
    await repository.delete_user_data(session, user_id)
    if keys:
        await enqueue(session, delete_images, keys=keys, key=f"erase-images:{user_id}")
