"""The scan pipeline a q.ai worker runs: classify → rules → answer → done.

Intake (decode, verify, re-encode, hash, confirmed-result cache) already happened in the request, see
``service.scans.create_scan``. Each stage is recorded with ``progress.advance`` and the scan ends with
``rules.finish``, as a cache hit in the request does; a redelivered job resumes harmlessly because stages
only move forward and the final write happens once.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import utcnow
from ecoeco.queue import JobExpired
from ecoeco.runtime import Backends
from ecoeco.vision.base import Classification, VisionError
from ecoeco.waste import live, progress, repository
from ecoeco.waste.progress import Step
from ecoeco.waste.rules import Verdict, finish, taxonomy, verdict_for_question

log = structlog.get_logger(__name__)

FAILED_MESSAGE = {
    "ko": "사진을 분석하지 못했어요. 잠시 후 다시 시도하거나 물건 이름을 입력해 주세요.",
    "en": "We could not analyse this photo. Please try again later or type the item's name.",
}


async def run(backends: Backends, scan_id: uuid.UUID) -> None:
    async with backends.db.session() as session:  # read and move on in one transaction
        scan = await repository.get_scan(session, scan_id)
        if scan is None or scan.status in progress.TERMINAL:
            return  # deleted meanwhile, or a duplicate delivery of a finished job
        classifying = await progress.record(session, scan_id, Step("classifying"))
    if classifying:
        await live.remember(backends.cache, scan, "classifying")
        await progress.notify(backends.cache, scan_id)
    if scan.image_key is not None:
        image = await backends.storage.get(scan.image_key)
        classification = await backends.classifier.classify(
            image, question=scan.question, taxonomy=taxonomy()
        )
        verdict = _verdict(classification)
        if verdict.unsure and scan.question:
            # The photo was inconclusive but the user also typed what it is.
            verdict = verdict_for_question(scan.question, fallback=verdict)
    else:
        verdict = verdict_for_question(scan.question or "", fallback=None)

    # Rules and answer take microseconds: their stages are recorded with the result in one commit.
    await progress.advance(
        backends, scan_id, Step("rules"), Step("answering"), finish(verdict, lang=scan.lang)
    )


def _verdict(c: Classification) -> Verdict:
    usage = (
        {"prompt_tokens": c.usage.prompt_tokens, "completion_tokens": c.usage.completion_tokens}
        if c.usage
        else None
    )
    return Verdict(
        major=c.major,
        middle=c.middle,
        item_id=None,
        item_hint=c.item_hint,
        tags=list(c.tags),
        confidence=c.confidence,
        model=c.model,
        unsure=c.unsure,
        reason=c.reason,
        usage=usage,
    )


async def fail(session: AsyncSession, scan_id: uuid.UUID, exc: BaseException | None) -> None:
    """Mark the scan failed with a user-safe reason, in the caller's transaction.

    ``exc`` is what killed its job (``JobExpired``: it waited past its TTL); None when the job vanished
    (expired in the broker unseen).
    """
    scan = await repository.get_scan(session, scan_id)
    if scan is None:
        return
    vision = isinstance(exc, VisionError) or isinstance(getattr(exc, "__cause__", None), VisionError)
    timed_out = exc is None or isinstance(exc, JobExpired)
    code = "vision-unavailable" if vision else "analysis-timeout" if timed_out else "analysis-failed"
    message = FAILED_MESSAGE.get(scan.lang, FAILED_MESSAGE["ko"])
    failed = {"error_code": code, "error_message": message, "completed_at": utcnow()}
    await progress.record(
        session, scan_id, Step("failed", {"error": {"code": code, "message": message}}, failed)
    )
    log.warning("scan_failed", scan_id=str(scan_id), code=code, error=type(exc).__name__ if exc else None)
