"""The fast "is this session revoked?" check, consulted on every authenticated request.

A revoked session id stays on the deny-list (the Cache port: Redis when distributed) for as long as
any access token of that session can still be valid; after that, expiry alone refuses them.

With a shared cache (Redis) each process remembers a "not revoked" answer for at most
:data:`MEMO_S` seconds, so a busy phone costs one Redis read per second instead of one per request.
The trade-off, and the bound: after a sign-out, *another* process may still accept that session's
access tokens for up to :data:`MEMO_S` seconds; the process that revoked it refuses them at once.
"Revoked" answers are never remembered (the deny-list stays the truth), and the in-process cache of
embedded mode is read directly, so there revocation is always immediate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from ecoeco.auth.tokens import LEEWAY_S
from ecoeco.cache import Cache
from ecoeco.core.memo import Memos

MEMO_S = 1.0
# Sessions remembered per process at most: a flood of distinct sessions evicts the oldest first.
MEMO_SIZE = 10_000

# Per cache (one per app's backends): the sessions known not to be revoked, for MEMO_S seconds.
_not_revoked: Memos[uuid.UUID, bool] = Memos(MEMO_S, MEMO_SIZE)


def _key(session_id: uuid.UUID) -> str:
    return f"auth:revoked-sid:{session_id}"


async def deny_sessions(cache: Cache, session_ids: Iterable[uuid.UUID], *, access_ttl_s: int) -> None:
    memo = _not_revoked.of(cache)
    for sid in session_ids:
        await cache.set(_key(sid), b"1", ttl=access_ttl_s + LEEWAY_S)
        memo.forget(sid)


async def is_revoked(cache: Cache, session_id: uuid.UUID) -> bool:
    if cache.backend == "memory":
        return await cache.get(_key(session_id)) is not None
    memo = _not_revoked.of(cache)
    if memo.get(session_id):
        return False
    if await cache.get(_key(session_id)) is not None:
        memo.forget(session_id)
        return True
    memo.put(session_id, True)
    return False
