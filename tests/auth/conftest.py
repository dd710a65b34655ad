from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ecoeco.settings import Settings
from tests.support.fixtures_idp import FakeIdP


@pytest.fixture
def settings(settings: Settings, fake_idp: FakeIdP) -> Settings:
    """Every auth test runs with the three social providers pointed at the fake IdP server."""
    return fake_idp.settings_for(settings)


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client over https, so it keeps and sends the Secure cookies of the web flow."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest.fixture
async def idp_http() -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser talking to the identity provider (real HTTP to the fake IdP)."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as c:
        yield c
