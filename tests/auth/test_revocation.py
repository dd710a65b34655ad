"""Signing out across processes: each replica may remember "not revoked" for a bounded time only."""

from __future__ import annotations

import httpx
import pytest

from ecoeco.auth.revocation import MEMO_S
from ecoeco.core.clock import Clock
from tests.support.auth import AUTH, sign_in

ME = "/api/v1/users/me"


@pytest.mark.distributed_only
async def test_a_revoked_session_is_refused_everywhere_within_the_bound(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, clock: Clock
) -> None:
    me = await sign_in(client)
    other = await sign_in(client, name="other")
    assert (await replica.get(ME, headers=me.headers)).status_code == 200  # the replica now remembers it

    assert (await client.post(f"{AUTH}/logout", headers=me.headers)).status_code == 204
    refused = await client.get(ME, headers=me.headers)  # the process that revoked it: at once
    assert refused.status_code == 401
    assert refused.json()["code"] == "token-revoked"

    clock.advance(MEMO_S + 0.01)
    late = await replica.get(ME, headers=me.headers)
    assert late.status_code == 401
    assert late.json()["code"] == "token-revoked"
    # Another session is not affected by the memo of this one.
    assert (await replica.get(ME, headers=other.headers)).status_code == 200


async def test_a_revoked_session_stays_refused_on_every_later_request(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    me = await sign_in(client)
    assert (await client.get(ME, headers=me.headers)).status_code == 200
    assert (await client.post(f"{AUTH}/logout", headers=me.headers)).status_code == 204
    for _ in range(3):  # a memo must never turn a revoked answer into an accepted one later
        assert (await client.get(ME, headers=me.headers)).status_code == 401
        clock.advance(MEMO_S)
