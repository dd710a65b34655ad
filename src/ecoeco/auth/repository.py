"""The only SQL of the auth domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.auth.models import AuthSession, Identity, RefreshToken
from ecoeco.db.sql import insert_ignore


async def find_identity(session: AsyncSession, provider: str, subject: str) -> Identity | None:
    result = await session.execute(
        select(Identity).where(Identity.provider == provider, Identity.subject == subject)
    )
    return result.scalar_one_or_none()


async def insert_identity_if_absent(
    session: AsyncSession, *, user_id: uuid.UUID, provider: str, subject: str
) -> bool:
    """Insert the link unless (provider, subject) exists; True if this call created it.

    ON CONFLICT DO NOTHING makes two concurrent first sign-ins of one person end in one account.
    """
    values = {"id": uuid.uuid4(), "user_id": user_id, "provider": provider, "subject": subject}
    return await insert_ignore(session, Identity, values, ("provider", "subject"))


async def providers_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    result = await session.execute(
        select(Identity.provider).where(Identity.user_id == user_id).order_by(Identity.created_at)
    )
    return list(result.scalars())


async def add_session(session: AsyncSession, auth_session: AuthSession, token: RefreshToken) -> None:
    session.add(auth_session)
    await session.flush()
    session.add(token)
    await session.flush()


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def find_refresh_token(
    session: AsyncSession, token_hash: str
) -> tuple[RefreshToken, AuthSession] | None:
    result = await session.execute(
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def mark_used(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Atomically claim a refresh token; False if someone else already used it (a replay)."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke_sessions(
    session: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID | None, now: datetime, reason: str
) -> list[uuid.UUID]:
    """Revoke one session of a user (or all of them); returns every affected session id."""
    where = [AuthSession.user_id == user_id]
    if session_id is not None:
        where.append(AuthSession.id == session_id)
    ids = list((await session.execute(select(AuthSession.id).where(*where))).scalars())
    if ids:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id.in_(ids), AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
    return ids
