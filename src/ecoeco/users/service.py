"""Profile reads (cached briefly), edits and account deletion."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.auth import service as auth
from ecoeco.cache import Cache
from ecoeco.core import events
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import NotFound
from ecoeco.core.memo import Memos
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from ecoeco.users import repository as repo
from ecoeco.users.nicknames import generate_nickname
from ecoeco.users.schemas import UserOut, UserPatch

# With a shared cache (Redis), each process also remembers the profiles it read for PROFILE_MEMO_S seconds,
# so a busy phone costs no cache round trip per request. The bound: an edit made through *another* process
# shows here at most PROFILE_MEMO_S seconds late; this process' own edits and deletions drop it at once.
# Keyed by the verified caller's id, so nobody is answered with another's profile. A deleted account is
# refused before its profile is read, by the revocation check (ecoeco.auth.revocation, its own 1 s bound).
PROFILE_MEMO_S = 1.0
PROFILE_MEMO_SIZE = 10_000
_profiles: Memos[uuid.UUID, bytes] = Memos(PROFILE_MEMO_S, PROFILE_MEMO_SIZE)


def _profile_key(user_id: uuid.UUID) -> str:
    return f"users:profile:{user_id}"


def _gone() -> NotFound:
    return NotFound("This account no longer exists.", code="user-not-found")


async def _load(db: AsyncSession, user_id: uuid.UUID) -> UserOut:
    user = await repo.get_user(db, user_id)
    if user is None:
        raise _gone()
    return UserOut(
        id=user.id,
        nickname=user.nickname,
        providers=await auth.providers_of(db, user_id),
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def profile_json(backends: Backends, user_id: uuid.UUID) -> bytes:
    """The caller's profile as JSON. A short cache spares the database on every app start and
    screen: a hit costs no database session and no re-serialisation.

    Safe because revocation never depends on it: a deleted account's sessions are on the deny-list.
    """
    cache = backends.cache
    memo = None if cache.backend == "memory" else _profiles.of(cache)  # the memory cache is local already
    body = memo.get(user_id) if memo is not None else None
    if body is not None:
        return body
    body = await cache.get(_profile_key(user_id))
    if body is None:
        async with backends.db.session() as db:
            body = (await _load(db, user_id)).model_dump_json().encode()
        await cache.set(_profile_key(user_id), body, ttl=backends.settings.auth_profile_cache_s)
    if memo is not None:
        memo.put(user_id, body)
    return body


async def forget_profile(cache: Cache, user_id: uuid.UUID) -> None:
    _profiles.of(cache).forget(user_id)
    await cache.delete(_profile_key(user_id))


async def update_profile(db: AsyncSession, cache: Cache, user_id: uuid.UUID, patch: UserPatch) -> UserOut:
    user = await repo.get_user(db, user_id)
    if user is None:
        raise _gone()
    changes = patch.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        user.updated_at = utcnow()
    profile = await _load(db, user_id)
    # Commit first, then drop the cached copy, so no reader can re-cache the old row afterwards.
    await db.commit()
    await forget_profile(cache, user_id)
    return profile


async def delete_account(db: AsyncSession, cache: Cache, settings: Settings, user_id: uuid.UUID) -> None:
    """Erase the account and everything personal hanging off it, in one transaction.

    Order: sessions revoked (and their tokens deny-listed) first, then ``user.deleted`` lets other
    domains erase their data (scans, images), then the row goes, cascading identities and sessions.
    """
    if await repo.get_user(db, user_id) is None:
        raise _gone()
    await auth.sign_out_everywhere(db, cache, settings, user_id, reason="account-deleted")
    await events.publish(db, events.USER_DELETED, {"user_id": user_id})
    await repo.delete_user(db, user_id)
    await db.commit()
    await forget_profile(cache, user_id)


@events.subscribe(events.USER_CREATED)
async def _create_profile(db: AsyncSession, payload: dict[str, Any]) -> None:
    """A first sign-in opened an account: give it its profile, with a generated nickname."""
    await repo.create_user(db, user_id=payload["user_id"], nickname=generate_nickname())
