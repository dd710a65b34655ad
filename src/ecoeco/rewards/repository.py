"""All SQL of the rewards domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.db.sql import insert
from ecoeco.rewards.models import OwnedCharacter


async def owned(session: AsyncSession, user_id: uuid.UUID) -> list[OwnedCharacter]:
    stmt = select(OwnedCharacter).where(OwnedCharacter.user_id == user_id)
    return list((await session.execute(stmt)).scalars())


async def owns(session: AsyncSession, user_id: uuid.UUID, character_id: str) -> bool:
    stmt = select(OwnedCharacter.scan_id).where(
        OwnedCharacter.user_id == user_id, OwnedCharacter.character_id == character_id
    )
    return (await session.execute(stmt)).first() is not None


async def earned_on(session: AsyncSession, user_id: uuid.UUID, day: date) -> int:
    stmt = select(func.count()).where(OwnedCharacter.user_id == user_id, OwnedCharacter.day == day)
    return int(await session.scalar(stmt) or 0)


async def add(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    character_id: str,
    scan_id: uuid.UUID | None,
    earned_at: datetime,
    day: date | None,
    slot: int | None,
) -> bool:
    """Insert unless any unique key (owner and character, scan, day slot) is taken; True if inserted."""
    stmt = (
        insert(session, OwnedCharacter)
        .values(
            user_id=user_id,
            character_id=character_id,
            scan_id=scan_id,
            earned_at=earned_at,
            day=day,
            slot=slot,
        )
        .on_conflict_do_nothing()
    )
    result: CursorResult[Any] = await session.execute(stmt)  # type: ignore[assignment]
    return result.rowcount == 1


async def remove_for_scan(session: AsyncSession, scan_id: uuid.UUID) -> bool:
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        delete(OwnedCharacter).where(OwnedCharacter.scan_id == scan_id)
    )
    return result.rowcount > 0


async def earned_between(
    session: AsyncSession, user_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[tuple[uuid.UUID, str]]:
    """(user, character) earned by a scan in [start, end), for a batch of users."""
    stmt = select(OwnedCharacter.user_id, OwnedCharacter.character_id).where(
        OwnedCharacter.user_id.in_(user_ids),
        OwnedCharacter.scan_id.is_not(None),
        OwnedCharacter.earned_at >= start,
        OwnedCharacter.earned_at < end,
    )
    return [(u, c) for u, c in (await session.execute(stmt)).all()]


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(OwnedCharacter).where(OwnedCharacter.user_id == user_id))
