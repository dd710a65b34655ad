"""All SQL of the waste domain."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import utcnow
from ecoeco.waste.models import ConfirmedImage, Feedback, Scan, ScanEvent, Upload

# --- uploads ----------------------------------------------------------------------------------


async def add_upload(session: AsyncSession, upload: Upload) -> Upload:
    session.add(upload)
    await session.flush()
    return upload


async def get_upload(session: AsyncSession, upload_id: uuid.UUID) -> Upload | None:
    return await session.get(Upload, upload_id)


async def consume_upload(session: AsyncSession, upload_id: uuid.UUID) -> bool:
    """Mark a pending upload consumed; False if another request did first (a conditional UPDATE: the
    database serialises the race on both backends, where SQLite ignores SELECT … FOR UPDATE)."""
    result = await session.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.status == "pending")
        .values(status="consumed")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def open_uploads(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> int:
    """Upload targets handed to the user that are neither used nor expired."""
    stmt = select(func.count()).where(
        Upload.user_id == user_id, Upload.status == "pending", Upload.expires_at > now
    )
    return int(await session.scalar(stmt) or 0)


async def finished_uploads(session: AsyncSession, *, expired_before: datetime, limit: int) -> list[Upload]:
    """Uploads whose raw object is no longer needed: turned into a scan, or never used and expired."""
    stmt = (
        select(Upload)
        .where(or_(Upload.status == "consumed", Upload.expires_at < expired_before))
        .order_by(Upload.expires_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def stale_scans(session: AsyncSession, *, untouched_since: datetime, limit: int) -> list[uuid.UUID]:
    stmt = (
        select(Scan.id)
        .where(Scan.status.in_(("queued", "processing")), Scan.updated_at < untouched_since)
        .order_by(Scan.updated_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def daily_counts(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    in_day = (Scan.created_at >= start) & (Scan.created_at < end)
    rows = await session.execute(select(Scan.status, func.count()).where(in_day).group_by(Scan.status))
    by_status = {status: int(n) for status, n in rows}
    hits = await session.scalar(
        select(func.count()).select_from(Scan).where(in_day, Scan.cache_hit.is_(True))
    )
    return {
        "waste.scans_created": sum(int(n) for n in by_status.values()),
        "waste.scans_done": int(by_status.get("done", 0)),
        "waste.scans_failed": int(by_status.get("failed", 0)),
        "waste.cache_hits": int(hits or 0),
    }


async def delete_upload(session: AsyncSession, upload_id: uuid.UUID) -> None:
    await session.execute(delete(Upload).where(Upload.id == upload_id))


# --- scans ------------------------------------------------------------------------------------


async def insert_scan(session: AsyncSession, scan: Scan) -> bool:
    """Insert; False if the user already has a scan with this idempotency key (nothing written), or if
    the row was refused otherwise (then, without a key, the transaction is left unusable)."""
    # Only the (user, key) constraint can refuse a well-formed row, so only a keyed insert needs the
    # savepoint (two round trips) that keeps the transaction usable for looking up the winner.
    keyed = session.begin_nested() if scan.idempotency_key is not None else contextlib.nullcontext()
    try:
        async with keyed:
            session.add(scan)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def get_scan(session: AsyncSession, scan_id: uuid.UUID) -> Scan | None:
    return await session.get(Scan, scan_id)


async def get_user_scan(session: AsyncSession, user_id: uuid.UUID, scan_id: uuid.UUID) -> Scan | None:
    stmt = select(Scan).where(Scan.id == scan_id, Scan.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_idempotency_key(session: AsyncSession, user_id: uuid.UUID, key: str) -> Scan | None:
    stmt = select(Scan).where(Scan.user_id == user_id, Scan.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_user_scans(
    session: AsyncSession, user_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Scan]:
    stmt = select(Scan).where(Scan.user_id == user_id)
    if after is not None:
        created, sid = after
        stmt = stmt.where(or_(Scan.created_at < created, (Scan.created_at == created) & (Scan.id < sid)))
    stmt = stmt.order_by(Scan.created_at.desc(), Scan.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def category_counts(
    session: AsyncSession, user_id: uuid.UUID
) -> list[tuple[str | None, str | None, int]]:
    stmt = (
        select(Scan.major, Scan.middle, func.count())
        .where(Scan.user_id == user_id, Scan.status == "done")
        .group_by(Scan.major, Scan.middle)
    )
    return [(major, middle, int(n)) for major, middle, n in (await session.execute(stmt)).all()]


async def scan_times(session: AsyncSession, user_id: uuid.UUID) -> list[datetime]:
    stmt = select(Scan.created_at).where(Scan.user_id == user_id).order_by(Scan.created_at.desc())
    return list((await session.execute(stmt)).scalars())


async def status_counts(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    stmt = select(Scan.status, func.count()).where(Scan.user_id == user_id).group_by(Scan.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


async def user_image_keys(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    scans = select(Scan.image_key).where(Scan.user_id == user_id, Scan.image_key.is_not(None))
    uploads = select(Upload.object_key).where(Upload.user_id == user_id)
    keys = list((await session.execute(scans)).scalars()) + list((await session.execute(uploads)).scalars())
    return [k for k in keys if k]


async def delete_user_data(session: AsyncSession, user_id: uuid.UUID) -> None:
    # Explicit deletes rather than relying on ON DELETE CASCADE alone: SQLite enforces it only with
    # the foreign_keys pragma, and the erasure must not depend on connection settings.
    scan_ids = select(Scan.id).where(Scan.user_id == user_id)
    await session.execute(delete(ConfirmedImage).where(ConfirmedImage.scan_id.in_(scan_ids)))
    await session.execute(delete(ScanEvent).where(ScanEvent.scan_id.in_(scan_ids)))
    await session.execute(delete(Feedback).where(Feedback.user_id == user_id))
    await session.execute(delete(Scan).where(Scan.user_id == user_id))
    await session.execute(delete(Upload).where(Upload.user_id == user_id))


# --- events -----------------------------------------------------------------------------------


async def advance_stage(
    session: AsyncSession,
    scan_id: uuid.UUID,
    *,
    stage: str,
    status: str,
    progress: int,
    from_stages: list[str],
    values: dict[str, Any],
) -> int | None:
    """Compare-and-set the stage; the new event number, or None if the scan was not in ``from_stages``."""
    stmt = (
        update(Scan)
        .where(Scan.id == scan_id, Scan.stage.in_(from_stages))
        .values(
            stage=stage,
            status=status,
            progress=progress,
            event_seq=Scan.event_seq + 1,
            updated_at=utcnow(),
            **values,
        )
        .returning(Scan.event_seq)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def add_event(session: AsyncSession, scan_id: uuid.UUID, seq: int, type_: str, data: dict[str, Any]) -> None:
    session.add(ScanEvent(scan_id=scan_id, seq=seq, type=type_, data=data))


async def events_after(session: AsyncSession, scan_id: uuid.UUID, seq: int) -> list[ScanEvent]:
    stmt = select(ScanEvent).where(ScanEvent.scan_id == scan_id, ScanEvent.seq > seq).order_by(ScanEvent.seq)
    return list((await session.execute(stmt)).scalars())


# --- feedback and the confirmed-result cache --------------------------------------------------


async def get_feedback(session: AsyncSession, scan_id: uuid.UUID) -> Feedback | None:
    return await session.get(Feedback, scan_id)


async def save_feedback(session: AsyncSession, feedback: Feedback) -> Feedback:
    merged = await session.merge(feedback)
    await session.flush()
    return merged


async def save_confirmed(session: AsyncSession, confirmed: ConfirmedImage) -> None:
    await session.merge(confirmed)
    await session.flush()


async def forget_confirmed(session: AsyncSession, scan_id: uuid.UUID) -> None:
    await session.execute(delete(ConfirmedImage).where(ConfirmedImage.scan_id == scan_id))


async def confirmed_candidates(
    session: AsyncSession, bands: tuple[str, str, str, str], *, user_id: uuid.UUID
) -> list[ConfirmedImage]:
    stmt = (
        select(ConfirmedImage)
        .where(
            or_(ConfirmedImage.shared.is_(True), ConfirmedImage.user_id == user_id),
            or_(
                ConfirmedImage.band0 == bands[0],
                ConfirmedImage.band1 == bands[1],
                ConfirmedImage.band2 == bands[2],
                ConfirmedImage.band3 == bands[3],
            ),
        )
        .order_by(ConfirmedImage.created_at.desc())
        .limit(50)
    )
    return list((await session.execute(stmt)).scalars())


# --- what a finished scan earned (see service.outcome) ----------------------------------------


async def other_photo_hashes(
    session: AsyncSession, user_id: uuid.UUID, *, before: datetime, exclude: uuid.UUID
) -> list[str]:
    """Perceptual hashes of this user's other photos taken up to ``before``."""
    stmt = select(Scan.image_hash).where(
        Scan.user_id == user_id,
        Scan.id != exclude,
        Scan.image_hash.is_not(None),
        Scan.created_at <= before,
    )
    return [h for h in (await session.execute(stmt)).scalars() if h]


async def append_final_event(
    session: AsyncSession, scan_id: uuid.UUID, *, seen_seq: int, result: dict[str, Any]
) -> int | None:
    """Number the next event of a done scan and store its new result, unless another event was added
    since ``seen_seq`` (compare-and-set: two writers cannot both append). The event number, or None."""
    stmt = (
        update(Scan)
        .where(Scan.id == scan_id, Scan.status == "done", Scan.event_seq == seen_seq)
        .values(event_seq=Scan.event_seq + 1, result=result, updated_at=utcnow())
        .returning(Scan.event_seq)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# --- activity for batch reports and operators (see service.activity) ---------------------------


async def active_users(
    session: AsyncSession, start: datetime, end: datetime, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Users with a scan in [start, end), in id order after ``after`` (a keyset page)."""
    stmt = select(Scan.user_id).where(Scan.created_at >= start, Scan.created_at < end)
    if after is not None:
        stmt = stmt.where(Scan.user_id > after)
    stmt = stmt.group_by(Scan.user_id).order_by(Scan.user_id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def done_scans_of(
    session: AsyncSession, user_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[tuple[uuid.UUID, str | None, str | None, Any]]:
    """(user, major, middle, result) of the users' done scans in [start, end)."""
    stmt = select(Scan.user_id, Scan.major, Scan.middle, Scan.result).where(
        Scan.user_id.in_(user_ids), Scan.status == "done", Scan.created_at >= start, Scan.created_at < end
    )
    return [(u, ma, mi, r) for u, ma, mi, r in (await session.execute(stmt)).all()]


async def scan_times_of(
    session: AsyncSession, user_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[tuple[uuid.UUID, datetime]]:
    stmt = select(Scan.user_id, Scan.created_at).where(
        Scan.user_id.in_(user_ids), Scan.created_at >= start, Scan.created_at < end
    )
    return [(u, t) for u, t in (await session.execute(stmt)).all()]


async def unanswered(session: AsyncSession, since: datetime) -> list[tuple[str | None, str | None, str]]:
    """(question, model or error code, status) of scans since ``since`` that got no answer from the
    knowledge base: done but unsure, or failed."""
    stmt = select(Scan.question, Scan.model, Scan.error_code, Scan.status, Scan.result).where(
        Scan.created_at >= since, Scan.status.in_(("done", "failed"))
    )
    return [
        (q, error if status == "failed" else model, status)
        for q, model, error, status, result in (await session.execute(stmt)).all()
        if status == "failed" or (result or {}).get("unsure", False)
    ]


async def category_totals(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[str, int, int]]:
    """(middle, scans, distinct people) of done, answered scans in [start, end)."""
    stmt = (
        select(Scan.middle, func.count(), func.count(Scan.user_id.distinct()))
        .where(
            Scan.status == "done", Scan.middle.is_not(None), Scan.created_at >= start, Scan.created_at < end
        )
        .group_by(Scan.middle)
    )
    return [(m or "", int(n), int(p)) for m, n, p in (await session.execute(stmt)).all()]


async def set_result(session: AsyncSession, scan_id: uuid.UUID, result: dict[str, Any]) -> None:
    await session.execute(update(Scan).where(Scan.id == scan_id).values(result=result, updated_at=utcnow()))
