"""Per-client-IP limits on the sign-in, token and refresh endpoints (fixed window, Cache port)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from fastapi import Request

from ecoeco.core.errors import TooManyRequests
from ecoeco.runtime.deps import get_backends


def rate_limited(bucket: str) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        backends = get_backends(request)
        settings = backends.settings
        # The direct peer: behind the ingress, uvicorn's --forwarded-allow-ips makes this the client.
        ip = request.client.host if request.client else "unknown"
        count, reset_in = await backends.cache.incr(f"auth:rl:{bucket}:{ip}", ttl=settings.auth_rate_window_s)
        if count > settings.auth_rate_limit:
            raise TooManyRequests(
                "Too many sign-in requests from this address; retry later.", retry_after=math.ceil(reset_in)
            )

    return check
