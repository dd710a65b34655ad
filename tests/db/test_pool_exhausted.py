"""When every pooled connection is busy, a request waits pool_timeout and then gets a 503 it can retry,
never a 500 (slow uploads used to hold connections until /locations, scans and uploads answered 500)."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from fastapi import FastAPI

from ecoeco.runtime import Backends
from tests.support.auth import sign_in

pytestmark = pytest.mark.slow


async def test_an_exhausted_pool_is_a_503_with_retry_after(app: FastAPI, client: httpx.AsyncClient) -> None:
    backends: Backends = app.state.backends
    me = await sign_in(client)
    # A session endpoint: the public location reads of SQLite have a read pool of their own.
    scans = "/api/v1/users/me/scans"
    pool = backends.db.engine.pool
    capacity = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    async with contextlib.AsyncExitStack() as held:
        for _ in range(capacity):
            await held.enter_async_context(backends.db.engine.connect())
        r = await client.get(scans, headers=me.headers)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "dependency-unavailable"
    assert (await client.get(scans, headers=me.headers)).status_code == 200  # and it recovers
