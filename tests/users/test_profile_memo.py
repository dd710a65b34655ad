"""The per-process profile memo (distributed): never another user's profile, and never stale for longer
than its bound, whether the profile was edited or the account deleted through another process."""

from __future__ import annotations

import httpx
import pytest

from ecoeco.auth.revocation import MEMO_S
from ecoeco.core.clock import Clock
from ecoeco.users.service import PROFILE_MEMO_S
from tests.support.auth import sign_in

ME = "/api/v1/users/me"

pytestmark = pytest.mark.distributed_only


async def test_each_caller_gets_their_own_profile_from_the_memo(
    client: httpx.AsyncClient, replica: httpx.AsyncClient
) -> None:
    alice = await sign_in(client, name="alice")
    bob = await sign_in(client, name="bob")
    for _ in range(3):  # the first round fills the replica's memo, the next ones are answered from it
        for who in (alice, bob):
            r = await replica.get(ME, headers=who.headers)
            assert r.status_code == 200
            assert r.json()["id"] == str(who.user_id)


async def test_an_edit_elsewhere_shows_within_the_bound_and_at_once_where_it_was_made(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, clock: Clock
) -> None:
    me = await sign_in(client)
    before = (await replica.get(ME, headers=me.headers)).json()["nickname"]  # remembered by the replica
    assert (await client.patch(ME, json={"nickname": "새이름"}, headers=me.headers)).status_code == 200
    assert (await client.get(ME, headers=me.headers)).json()["nickname"] == "새이름"
    assert (await replica.get(ME, headers=me.headers)).json()["nickname"] in (before, "새이름")

    clock.advance(PROFILE_MEMO_S + 0.01)
    assert (await replica.get(ME, headers=me.headers)).json()["nickname"] == "새이름"
    # The replica's own edits drop its memo at once.
    assert (await replica.patch(ME, json={"nickname": "또바꿈"}, headers=me.headers)).status_code == 200
    assert (await replica.get(ME, headers=me.headers)).json()["nickname"] == "또바꿈"


async def test_a_deleted_account_stops_working_everywhere_within_the_bound(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, clock: Clock
) -> None:
    me = await sign_in(client)
    assert (await replica.get(ME, headers=me.headers)).status_code == 200  # profile and session remembered
    assert (await client.delete(ME, headers=me.headers)).status_code == 204

    clock.advance(max(PROFILE_MEMO_S, MEMO_S) + 0.01)
    gone = await replica.get(ME, headers=me.headers)
    assert gone.status_code == 401
    assert gone.json()["code"] == "token-revoked"
