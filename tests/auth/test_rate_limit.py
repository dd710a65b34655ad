from __future__ import annotations

import httpx
import pytest

from tests.support.auth import AUTH, sign_in

pytestmark = pytest.mark.settings(auth_rate_limit=3)


async def test_sign_in_endpoints_are_limited_per_client_ip(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.get(f"{AUTH}/kakao/authorize", params={"client": "mobile"})).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [400, 400, 400]  # counted even when the request itself is bad
    limited = await client.get(f"{AUTH}/kakao/authorize")
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate-limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_refresh_has_its_own_budget(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)  # uses 2 of the 3 sign-in requests (authorize, consent) and 1 token request
    for _ in range(3):
        await client.post(f"{AUTH}/refresh", json={"refresh_token": "rt_unknown"})
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": me.refresh_token})
    assert r.status_code == 429
    # Reading data is not rate-limited by these buckets.
    assert (await client.get("/api/v1/users/me", headers=me.headers)).status_code == 200
