"""The catalogue, a user's collection, and the domain events rewards act on.

A scan that ends with an answer publishes ``scan.done`` (ecoeco.waste); the subscriber in ``tasks``
(imported here, so it is registered wherever this domain is) enqueues ``api.rewards.grant`` in that same
transaction, keyed by the scan (``granting`` decides).
A "wrong" feedback takes the reward back; sign-up grants the mascot; account deletion erases them all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events
from ecoeco.core.clock import utcnow
from ecoeco.core.language import Lang
from ecoeco.rewards import repository
from ecoeco.rewards import tasks as tasks
from ecoeco.rewards.catalog import Character, get_catalog
from ecoeco.rewards.schemas import (
    CharacterCatalog,
    CharacterOut,
    Collection,
    OwnedCharacterOut,
    RewardOutcome,
)
from ecoeco.waste.service import outcome as waste

log = structlog.get_logger(__name__)


def character_view(character: Character, lang: Lang) -> CharacterOut:
    return CharacterOut(
        id=character.id,
        name=character.name(lang),
        category=character.category,
        mascot=character.mascot,
        intro=character.intro.get(lang),
        lines=[line.get(lang) for line in character.lines],
    )


def catalog_view(lang: Lang) -> CharacterCatalog:
    catalog = get_catalog()
    return CharacterCatalog(
        version=catalog.version, characters=[character_view(c, lang) for c in catalog.characters.values()]
    )


async def collection(session: AsyncSession, user_id: uuid.UUID, lang: Lang) -> Collection:
    catalog = get_catalog()
    order = {cid: n for n, cid in enumerate(catalog.characters)}
    rows = [r for r in await repository.owned(session, user_id) if r.character_id in catalog.characters]
    rows.sort(key=lambda r: order[r.character_id])
    return Collection(
        owned=[
            OwnedCharacterOut(
                character=character_view(catalog.characters[r.character_id], lang),
                earned_at=r.earned_at,
                scan_id=r.scan_id,
            )
            for r in rows
        ],
        total=len(catalog.characters),
    )


async def grant_mascot(session: AsyncSession, user_id: uuid.UUID) -> None:
    await repository.add(
        session,
        user_id=user_id,
        character_id=get_catalog().mascot.id,
        scan_id=None,
        earned_at=utcnow(),
        day=None,
        slot=None,
    )


@events.subscribe(events.SCAN_JUDGED)
async def _scan_judged(session: AsyncSession, payload: dict[str, Any]) -> None:
    """ "Wrong" takes the scan's reward back, unless its owner had confirmed the answer before."""
    if payload["correct"] or payload["was_confirmed"]:
        return
    scan_id = uuid.UUID(payload["scan_id"])
    if await repository.remove_for_scan(session, scan_id):
        taken_back = RewardOutcome(earned=None, reason="marked-wrong")
        await waste.revise(session, scan_id, taken_back.model_dump(mode="json"))
        log.info("reward_revoked", scan_id=payload["scan_id"])


@events.subscribe(events.USER_CREATED)
async def _user_created(session: AsyncSession, payload: dict[str, Any]) -> None:
    await grant_mascot(session, payload["user_id"])


@events.subscribe(events.USER_DELETED)
async def _user_deleted(session: AsyncSession, payload: dict[str, Any]) -> None:
    await repository.delete_user(session, payload["user_id"])


async def earned_between(
    session: AsyncSession, user_ids: list[uuid.UUID], start: dt.datetime, end: dt.datetime
) -> dict[uuid.UUID, list[str]]:
    """The characters each of ``user_ids`` earned by a scan in [start, end), in catalogue order."""
    order = {cid: n for n, cid in enumerate(get_catalog().characters)}
    found: dict[uuid.UUID, list[str]] = {}
    for user_id, character_id in await repository.earned_between(session, user_ids, start, end):
        found.setdefault(user_id, []).append(character_id)
    for owned in found.values():
        owned.sort(key=lambda c: order.get(c, len(order)))
    return found
