"""``replica``: a second app on the same database and cache, as another process behind the load balancer
would be. For the bounds of per-process memos (what one process may still answer after another changed it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from ecoeco.app import create_app
from ecoeco.settings import Settings


@pytest.fixture
async def replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
