"""The reward decision for a finished scan (ABUSE.md says why each rule is there).

Every check is about facts the waste domain owns (the answer, the photo's perceptual hash, the owner's
feedback), asked through its ``service.outcome``; the grant and the announcement on the scan commit in
the task's transaction, once per scan.
"""

from __future__ import annotations

import datetime as dt
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import KST, utcnow
from ecoeco.core.language import Lang
from ecoeco.rewards import repository
from ecoeco.rewards.catalog import Catalog, Character, get_catalog
from ecoeco.rewards.schemas import NoRewardReason, RewardOutcome
from ecoeco.settings import Settings
from ecoeco.waste.service import outcome as waste

log = structlog.get_logger(__name__)


class SlotTaken(Exception):
    """A concurrent grant took the same character or day slot first: the task retries and decides again."""


def refusal(scan: waste.FinishedScan, catalog: Catalog) -> NoRewardReason | None:
    """Why this answer cannot earn anything, judging the scan alone (ABUSE.md, cases 1-7)."""
    if not scan.has_photo:
        return "question-only"
    if scan.from_cache:
        return "confirmed-cache"
    if scan.from_words:
        return "question-assisted"
    if scan.unsure or scan.middle is None:
        return "unsure"
    if scan.middle not in catalog.by_category:  # only recyclable kinds have a character
        return "not-recyclable"
    if scan.todo:
        return "preparation-left"
    if scan.judged_correct is False:
        return "marked-wrong"
    return None


async def decide(
    session: AsyncSession, settings: Settings, scan: waste.FinishedScan, today: dt.date
) -> tuple[Character | None, NoRewardReason | None, int | None]:
    """(character, None, day slot) when the scan earns, else (None, reason, None)."""
    catalog = get_catalog()
    reason = refusal(scan, catalog)
    if reason is not None:
        return None, reason, None
    character = catalog.by_category[scan.middle or ""]
    if await waste.seen_before(session, scan):
        return None, "seen-before", None
    if await repository.owns(session, scan.user_id, character.id):
        return None, "already-owned", None
    earned_today = await repository.earned_on(session, scan.user_id, today)
    if earned_today >= settings.rewards_daily_limit:
        return None, "daily-limit", None
    return character, None, earned_today + 1


async def grant_for_scan(
    session: AsyncSession, settings: Settings, scan_id: uuid.UUID
) -> RewardOutcome | None:
    """Decide what a done scan earns, grant it and announce the outcome on the scan, once per scan: a
    scan whose outcome is announced already (a redelivered or repeated event) is left as it is."""
    scan = await waste.finished_scan(session, scan_id)
    if scan is None or scan.announced is not None:
        return None
    now = utcnow()
    today = now.astimezone(KST).date()
    character, reason, slot = await decide(session, settings, scan, today)
    if character is not None:
        added = await repository.add(
            session,
            user_id=scan.user_id,
            character_id=character.id,
            scan_id=scan.id,
            earned_at=now,
            day=today,
            slot=slot,
        )
        if not added:
            raise SlotTaken(f"scan {scan.id}: {character.id} or day slot {slot} was taken meanwhile")
    lang: Lang = "en" if scan.lang == "en" else "ko"
    result = RewardOutcome(
        earned=character.id if character else None,
        name=character.name(lang) if character else None,
        reason=reason,
    )
    await waste.announce(session, scan.id, result.model_dump(mode="json"))
    log.info("reward_decided", scan_id=str(scan.id), earned=result.earned, reason=reason)
    return result
