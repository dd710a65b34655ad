"""Sessions and their refresh-token families: open, rotate (with reuse detection), revoke."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.auth import repository as repo
from ecoeco.auth.models import AuthSession, RefreshToken
from ecoeco.auth.revocation import deny_sessions
from ecoeco.auth.runtime import AuthRuntime
from ecoeco.auth.tokens import csrf_matches, hash_refresh_token, new_refresh_token
from ecoeco.cache import Cache
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import Forbidden, Unauthorized
from ecoeco.settings import Settings


@dataclass(frozen=True)
class IssuedTokens:
    user_id: uuid.UUID
    session_id: uuid.UUID
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def _refresh_row(
    runtime: AuthRuntime, session_id: uuid.UUID, session_expires: datetime
) -> tuple[str, RefreshToken]:
    raw = new_refresh_token()
    expires = min(utcnow() + timedelta(seconds=runtime.settings.auth_refresh_ttl_s), session_expires)
    return raw, RefreshToken(
        id=uuid.uuid4(), session_id=session_id, token_hash=hash_refresh_token(raw), expires_at=expires
    )


def _issued(
    runtime: AuthRuntime, user_id: uuid.UUID, session_id: uuid.UUID, raw: str, row: RefreshToken
) -> IssuedTokens:
    access, ttl = runtime.tokens.issue(user_id, session_id)
    refresh_in = int((row.expires_at - utcnow()).total_seconds())
    return IssuedTokens(user_id, session_id, access, ttl, raw, max(0, refresh_in))


async def open_session(
    db: AsyncSession, runtime: AuthRuntime, *, user_id: uuid.UUID, provider: str, client: str
) -> IssuedTokens:
    expires = utcnow() + timedelta(seconds=runtime.settings.auth_session_max_s)
    auth_session = AuthSession(
        id=uuid.uuid4(), user_id=user_id, provider=provider, client=client, expires_at=expires
    )
    raw, row = _refresh_row(runtime, auth_session.id, expires)
    await repo.add_session(db, auth_session, row)
    return _issued(runtime, user_id, auth_session.id, raw, row)


async def rotate(
    db: AsyncSession, cache: Cache, runtime: AuthRuntime, raw: str, *, csrf: str | None, from_cookie: bool
) -> IssuedTokens:
    """Trade a refresh token for a new pair. A token presented twice revokes its whole session."""
    found = await repo.find_refresh_token(db, hash_refresh_token(raw))
    if found is None:
        raise Unauthorized("The refresh token is not valid.", code="invalid-refresh-token")
    token, auth_session = found
    secret = runtime.settings.secret_key.get_secret_value()
    if from_cookie and not csrf_matches(secret, auth_session.id, csrf):
        raise Forbidden("Refreshing with the cookie needs the X-CSRF-Token header.", code="csrf-failed")
    now = utcnow()
    if auth_session.revoked_at is not None:
        raise Unauthorized("The session has been signed out.", code="session-revoked")
    if token.expires_at <= now or auth_session.expires_at <= now:
        raise Unauthorized("The refresh token has expired; sign in again.", code="refresh-token-expired")
    if token.used_at is not None or not await repo.mark_used(db, token.id, now):
        # RFC 9700 §4.14.2: a replayed refresh token means it leaked; end the family for everyone.
        await revoke(
            db,
            cache,
            runtime.settings,
            user_id=auth_session.user_id,
            session_id=auth_session.id,
            reason="refresh-reuse",
        )
        await db.commit()  # the revocation must persist although the request fails
        raise Unauthorized(
            "The refresh token was already used; the session has been revoked.", code="refresh-token-reused"
        )
    new_raw, row = _refresh_row(runtime, auth_session.id, auth_session.expires_at)
    await repo.add_refresh_token(db, row)
    return _issued(runtime, auth_session.user_id, auth_session.id, new_raw, row)


async def revoke(
    db: AsyncSession,
    cache: Cache,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID | None,
    reason: str,
) -> list[uuid.UUID]:
    """Revoke one session (or all of a user's) in the database and deny their access tokens.

    The deny-list is written before the transaction commits: if the cache is down the request
    fails and nothing is revoked halfway; if the commit then fails, the tokens are merely refused early.
    """
    ids = await repo.revoke_sessions(db, user_id=user_id, session_id=session_id, now=utcnow(), reason=reason)
    await deny_sessions(cache, ids, access_ttl_s=settings.auth_access_ttl_s)
    return ids
