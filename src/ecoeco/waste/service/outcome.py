"""What other domains may learn about a finished scan, and the one thing they may add to it.

``finished_scan`` gives the facts a reward is decided on (ecoeco.rewards) without exposing the row;
``seen_before`` answers "did this user photograph this before?" with the perceptual hash that stays here;
``announce`` appends the final event of a done scan (the reward outcome) and records it in its result,
so the scan result and its event stream say it; ``revise`` changes that record when a reward is taken back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.runtime import Backends
from ecoeco.vision.images import hamming
from ecoeco.waste import progress, repository
from ecoeco.waste.rules import CACHE_MODEL, QUESTION_MODEL
from ecoeco.waste.service.scans import NEAR_DUPLICATE_BITS

# The key of a done scan's result that holds the outcome ``announce`` recorded.
ANNOUNCED = "reward"


@dataclass(frozen=True)
class FinishedScan:
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    lang: str
    has_photo: bool
    # The answer came from a confirmed earlier photo (a cache hit), not from looking at this one.
    from_cache: bool
    # The answer leaned on the user's typed words (a question was sent, or the photo was inconclusive).
    from_words: bool
    unsure: bool
    major: str | None  # where it is disposed of, after any redirect by a situation tag
    middle: str | None
    todo: tuple[str, ...]  # situation tags whose preparation is still to be done
    judged_correct: bool | None  # the owner's feedback, if any
    announced: dict[str, Any] | None  # what ``announce`` recorded already


async def finished_scan(session: AsyncSession, scan_id: uuid.UUID) -> FinishedScan | None:
    """The facts of a done scan; None if it is gone or not done."""
    scan = await repository.get_scan(session, scan_id)
    if scan is None or scan.status != "done":
        return None
    result = scan.result or {}
    answer = result.get("answer") or {}
    feedback = await repository.get_feedback(session, scan.id)
    return FinishedScan(
        id=scan.id,
        user_id=scan.user_id,
        created_at=scan.created_at,
        lang=scan.lang,
        has_photo=scan.image_key is not None,
        from_cache=scan.cache_hit or scan.model == CACHE_MODEL,
        from_words=scan.question is not None or scan.model == QUESTION_MODEL,
        unsure=bool(result.get("unsure", True)),
        major=answer.get("major"),
        middle=answer.get("middle"),
        todo=tuple(t["tag"] for t in answer.get("todo", ())),
        judged_correct=feedback.correct if feedback else None,
        announced=result.get(ANNOUNCED),
    )


async def seen_before(session: AsyncSession, scan: FinishedScan) -> bool:
    """Whether this user sent a near-identical photo (same perceptual hash, give or take a few bits)
    in any other scan up to this one, whatever that scan's answer was."""
    row = await repository.get_scan(session, scan.id)
    if row is None or row.image_hash is None:
        return False
    others = await repository.other_photo_hashes(session, scan.user_id, before=row.created_at, exclude=row.id)
    return any(hamming(h, row.image_hash) <= NEAR_DUPLICATE_BITS for h in others)


async def announce(session: AsyncSession, scan_id: uuid.UUID, outcome: dict[str, Any]) -> bool:
    """Append ``outcome`` as the done scan's final ``reward`` event and keep it in its result, in the
    caller's transaction; False (nothing written) if it was announced already or the scan is gone.
    Streams see it after commit (at the latest on their next database look)."""
    scan = await repository.get_scan(session, scan_id)
    if scan is None or scan.status != "done" or ANNOUNCED in (scan.result or {}):
        return False
    result = {**(scan.result or {}), ANNOUNCED: outcome}
    seq = await repository.append_final_event(session, scan_id, seen_seq=scan.event_seq, result=result)
    if seq is None:
        return False
    payload = {"stage": "done", "progress": 100, ANNOUNCED: outcome}
    repository.add_event(session, scan_id, seq, progress.REWARD_EVENT, payload)
    return True


async def revise(session: AsyncSession, scan_id: uuid.UUID, outcome: dict[str, Any]) -> None:
    """Replace an announced outcome (a reward taken back) in the scan's result. No event: the stream
    ended with the first announcement, and the collection is what says what is owned now."""
    scan = await repository.get_scan(session, scan_id)
    if scan is not None and ANNOUNCED in (scan.result or {}):
        await repository.set_result(session, scan_id, {**(scan.result or {}), ANNOUNCED: outcome})


async def wake_streams(backends: Backends, scan_id: uuid.UUID) -> None:
    """Tell the scan's open event streams to look again (e.g. for the reward outcome)."""
    await progress.notify(backends.cache, scan_id)
