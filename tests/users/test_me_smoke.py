from __future__ import annotations

import httpx

from tests.support.auth import sign_in


async def test_signed_in_user_reads_own_profile(client: httpx.AsyncClient) -> None:
    me = await sign_in(client, name="alice")
    r = await client.get("/api/v1/users/me", headers=me.headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(me.user_id)
    assert r.json()["providers"] == ["dev"]
