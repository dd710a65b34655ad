"""Feedback on a scan's answer, which also feeds the near-duplicate (confirmed photo) cache."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import Conflict, NotFound, Unprocessable
from ecoeco.recycling import service as recycling
from ecoeco.waste import repository
from ecoeco.waste.models import ConfirmedImage, Feedback, Scan, hash_bands
from ecoeco.waste.rules import CACHE_MODEL, QUESTION_MODEL
from ecoeco.waste.schemas import FeedbackCreate, FeedbackView


async def submit_feedback(
    session: AsyncSession, user_id: uuid.UUID, scan_id: uuid.UUID, body: FeedbackCreate
) -> FeedbackView:
    scan = await repository.get_user_scan(session, user_id, scan_id)
    if scan is None:
        raise NotFound("No such scan.", code="scan-not-found")
    if scan.status != "done":
        raise Conflict("Feedback can be given once the scan is done.", code="scan-not-done")
    named = None
    if body.item_id is not None:
        named = recycling.find_rule(item_id=body.item_id, category=None, item_hint=None)
        if named is None:
            raise Unprocessable(f"Unknown item id {body.item_id!r}.", code="unknown-item")
    if body.correct and body.item_id is not None and body.item_id != scan.item_id:
        raise Unprocessable("A correct answer cannot name a different item.", code="feedback-inconsistent")
    earlier = await repository.get_feedback(session, scan.id)
    # Read before saving: the merge below updates that same object in place.
    was_confirmed = bool(earlier and earlier.correct)
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
    await _learn(session, scan, confirmed=body.correct, corrected=named)
    judged = {"scan_id": str(scan.id), "correct": body.correct, "was_confirmed": was_confirmed}
    await events.publish(session, events.SCAN_JUDGED, judged)
    return feedback_view(feedback)


def shareable(scan: Scan) -> bool:
    """Whether a confirmation of this scan's answer may count towards serving it to other people.

    Only what the model concluded from the photo alone: an answer taken from the user's question (the
    photo was inconclusive, or the model was shown the question too) says nothing about the picture, and
    sharing it would let anyone decide what someone else's photo is (A asks "다 쓴 건전지" about a blank
    photo, says "correct", and B's similar photo comes back a battery). Even then it is served to others
    only once enough distinct people confirmed it (service.scans.confirmed_verdict).
    """
    return scan.question is None and scan.model not in (None, QUESTION_MODEL, CACHE_MODEL)


async def _learn(
    session: AsyncSession, scan: Scan, *, confirmed: bool, corrected: recycling.Rule | None
) -> None:
    """Feed the near-duplicate cache from feedback on a photo scan: a confirmed answer (served back to
    this user, and shared with others under :func:`shareable`) or a user's own correction (theirs alone)."""
    await repository.forget_confirmed(session, scan.id)
    if scan.image_hash is None or scan.cache_hit:
        return
    if confirmed:
        if scan.major is None:
            return  # "correct" on an unsure answer confirms nothing
        major, middle, item_id, shared = scan.major, scan.middle, scan.item_id, shareable(scan)
    elif corrected is not None:
        major, middle, item_id, shared = corrected.major, corrected.middle, corrected.item_id, False
    else:
        return  # "wrong" without saying what it is teaches nothing
    tags = list((scan.result or {}).get("tags", []))
    b = hash_bands(scan.image_hash)
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


def feedback_view(feedback: Feedback) -> FeedbackView:
    return FeedbackView(
        correct=feedback.correct,
        item_id=feedback.item_id,
        comment=feedback.comment,
        created_at=feedback.created_at,
    )
