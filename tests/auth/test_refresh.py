"""Refresh tokens: rotation on every use, reuse detection revokes the family, expiry."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ecoeco.core.clock import Clock
from ecoeco.settings import Settings
from tests.support.auth import AUTH, sign_in

ME = "/api/v1/users/me"


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{AUTH}/refresh", json={"refresh_token": token})


async def test_replayed_refresh_token_revokes_the_whole_family(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    first = await refresh(client, me.refresh_token)
    assert first.status_code == 200
    second = await refresh(client, first.json()["refresh_token"])
    assert second.status_code == 200

    replay = await refresh(client, me.refresh_token)  # the stolen, already-used token
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh-token-reused"

    # The legitimate holder's newest token is dead too, and so are the family's access tokens.
    latest = await refresh(client, second.json()["refresh_token"])
    assert latest.status_code == 401
    assert latest.json()["code"] == "session-revoked"
    for access in (me.access_token, first.json()["access_token"], second.json()["access_token"]):
        r = await client.get(ME, headers={"Authorization": f"Bearer {access}"})
        assert r.status_code == 401
        assert r.json()["code"] == "token-revoked"


async def test_reuse_revokes_only_that_session(client: httpx.AsyncClient) -> None:
    phone = await sign_in(client, name="two-devices")
    tablet = await sign_in(client, name="two-devices")
    assert phone.user_id == tablet.user_id
    await refresh(client, phone.refresh_token)
    assert (await refresh(client, phone.refresh_token)).status_code == 401
    assert (await client.get(ME, headers=tablet.headers)).status_code == 200
    assert (await refresh(client, tablet.refresh_token)).status_code == 200


async def test_concurrent_refreshes_of_one_token_succeed_at_most_once(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    results = await asyncio.gather(*(refresh(client, me.refresh_token) for _ in range(3)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) <= 1
    assert all(c in (200, 401) for c in codes)
    # Two presentations of one token is a replay by definition: the family is gone.
    winners = [r for r in results if r.status_code == 200]
    for w in winners:
        assert (await refresh(client, w.json()["refresh_token"])).status_code == 401


async def test_unknown_or_missing_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    r = await refresh(client, "rt_" + "x" * 43)
    assert r.status_code == 401
    assert r.json()["code"] == "invalid-refresh-token"
    r = await client.post(f"{AUTH}/refresh")
    assert r.status_code == 401


@pytest.mark.settings(auth_refresh_ttl_s=60)  # shorter than the access token's 10 minutes
async def test_expired_refresh_token_is_refused_and_not_consumed(
    settings: Settings, client: httpx.AsyncClient, clock: Clock
) -> None:
    me = await sign_in(client)
    clock.advance(settings.auth_refresh_ttl_s + 1)
    r = await refresh(client, me.refresh_token)
    assert r.status_code == 401
    assert r.json()["code"] == "refresh-token-expired"
    # Refusing an expired token changes nothing: presenting it again is not treated as a replay.
    again = await refresh(client, me.refresh_token)
    assert again.json()["code"] == "refresh-token-expired"
    assert (await client.get(ME, headers=me.headers)).status_code == 200


async def test_refresh_token_has_no_structure_to_tamper_with(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    tampered = me.refresh_token[:-1] + ("A" if me.refresh_token[-1] != "A" else "B")
    assert (await refresh(client, tampered)).json()["code"] == "invalid-refresh-token"
    assert (await refresh(client, me.refresh_token)).status_code == 200
