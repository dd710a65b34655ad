"""The fast "is this session revoked?" check, consulted on every authenticated request.

A revoked session id stays on the deny-list (the Cache port: Redis when distributed) for as long as
any access token of that session can still be valid; after that, expiry alone refuses them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from ecoeco.auth.tokens import LEEWAY_S
from ecoeco.cache import Cache


def _key(session_id: uuid.UUID) -> str:
    return f"auth:revoked-sid:{session_id}"


async def deny_sessions(cache: Cache, session_ids: Iterable[uuid.UUID], *, access_ttl_s: int) -> None:
    for sid in session_ids:
        await cache.set(_key(sid), b"1", ttl=access_ttl_s + LEEWAY_S)


async def is_revoked(cache: Cache, session_id: uuid.UUID) -> bool:
    return await cache.get(_key(session_id)) is not None
