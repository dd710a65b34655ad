"""A second user can never see or change the first user's data through any auth or users endpoint."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.support.auth import AUTH, SignedIn, sign_in

ME = "/api/v1/users/me"


def _leaks(response: httpx.Response, victim: SignedIn, nickname: str) -> bool:
    return str(victim.user_id) in response.text or nickname in response.text


async def test_no_get_endpoint_shows_another_users_data(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await sign_in(client, name="alice")
    nickname = "앨리스전용닉네임"
    assert (await client.patch(ME, json={"nickname": nickname}, headers=alice.headers)).status_code == 200
    bob = await sign_in(client, name="bob")
    # Every documented GET of these domains (the OpenAPI document lists what clients can call).
    paths = [
        path
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations and path.startswith(("/api/v1/users", "/api/v1/auth")) and "{" not in path
    ]
    assert ME in paths
    for path in paths:
        r = await client.get(path, headers=bob.headers)
        assert not _leaks(r, alice, nickname), (path, r.text)
    assert (await client.get(ME, headers=bob.headers)).json()["id"] == str(bob.user_id)


async def test_one_users_changes_and_sign_out_do_not_touch_another(client: httpx.AsyncClient) -> None:
    alice = await sign_in(client, name="alice")
    bob = await sign_in(client, name="bob")
    bob_before = (await client.get(ME, headers=bob.headers)).json()

    await client.patch(ME, json={"nickname": "alice-new"}, headers=alice.headers)
    assert (await client.get(ME, headers=bob.headers)).json() == bob_before

    # Bob's refresh token cannot be redeemed into Alice's account, and vice versa.
    r = await client.post(f"{AUTH}/refresh", json={"refresh_token": bob.refresh_token})
    assert r.json()["user_id"] == str(bob.user_id)
    bob_headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    assert (await client.post(f"{AUTH}/logout", headers=alice.headers)).status_code == 204
    assert (await client.get(ME, headers=bob_headers)).status_code == 200

    carol = await sign_in(client, name="carol")
    assert (await client.delete(ME, headers=carol.headers)).status_code == 204
    assert (await client.get(ME, headers=bob_headers)).json()["nickname"] == bob_before["nickname"]
