"""The signed-in user's account: read, edit (only what is user-editable), delete."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events
from ecoeco.core.errors import ServiceUnavailable
from ecoeco.core.events import USER_DELETED
from ecoeco.settings import Settings
from tests.support.auth import AUTH, sign_in

ME = "/api/v1/users/me"


async def test_first_sign_in_creates_an_account_with_a_generated_nickname(client: httpx.AsyncClient) -> None:
    me = await sign_in(client, name="hana")
    body = (await client.get(ME, headers=me.headers)).json()
    assert body["id"] == str(me.user_id)
    assert body["providers"] == ["dev"]
    assert body["nickname"] and "hana" not in body["nickname"]  # generated, not copied from the provider
    assert set(body) == {"id", "nickname", "providers", "created_at", "updated_at"}


async def test_patch_changes_the_nickname_and_is_visible_at_once(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    await client.get(ME, headers=me.headers)  # warm the profile cache
    r = await client.patch(ME, json={"nickname": "  분리수거왕  "}, headers=me.headers)
    assert r.status_code == 200, r.text
    assert r.json()["nickname"] == "분리수거왕"
    assert (await client.get(ME, headers=me.headers)).json()["nickname"] == "분리수거왕"


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"id": str(uuid.uuid4())}, "read_only"),
        ({"nickname": "ok", "created_at": "2020-01-01T00:00:00Z"}, "read_only"),
        ({"providers": ["google"]}, "read_only"),
        ({"is_admin": True}, "extra_forbidden"),
        ({"nickname": None}, "not_nullable"),
        ({"nickname": ""}, "string_too_short"),
        ({"nickname": "x" * 21}, "string_too_long"),
        ({"nickname": "bad\u0000name"}, "string_pattern_mismatch"),
        ({"nickname": 12}, "string_type"),
    ],
)
async def test_patch_rejects_server_owned_unknown_and_invalid_fields(
    client: httpx.AsyncClient, body: dict[str, Any], error_type: str
) -> None:
    me = await sign_in(client)
    before = (await client.get(ME, headers=me.headers)).json()
    r = await client.patch(ME, json=body, headers=me.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert error_type in [e["type"] for e in r.json()["errors"]]
    assert (await client.get(ME, headers=me.headers)).json() == before


async def test_patch_with_a_non_object_body_is_422(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    r = await client.patch(ME, content=b"[1,2]", headers={**me.headers, "content-type": "application/json"})
    assert r.status_code == 422


@pytest.mark.embedded_only
async def test_oversized_patch_is_413(settings: Settings, client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    big = b'{"nickname": "' + b"x" * settings.max_body_bytes + b'"}'
    r = await client.patch(ME, content=big, headers={**me.headers, "content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.embedded_only
async def test_oversized_chunked_patch_is_413(settings: Settings, client: httpx.AsyncClient) -> None:
    """No Content-Length to refuse up front: the limit is counted while the chunks arrive."""
    me = await sign_in(client)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"nickname": "'
        for _ in range(settings.max_body_bytes // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    r = await client.patch(ME, content=chunks(), headers={**me.headers, "content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


@pytest.fixture
def deletion_events() -> Iterator[list[dict[str, Any]]]:
    """Subscribe to user.deleted like the waste domain does; checks it runs inside the transaction."""
    seen: list[dict[str, Any]] = []

    async def handler(session: AsyncSession, payload: dict[str, Any]) -> None:
        assert session.in_transaction()
        seen.append(payload)

    events.subscribe(USER_DELETED)(handler)
    yield seen
    events._subscribers[USER_DELETED].remove(handler)


async def test_delete_erases_the_account_publishes_the_event_and_revokes_every_session(
    client: httpx.AsyncClient, deletion_events: list[dict[str, Any]]
) -> None:
    phone = await sign_in(client, name="leaving")
    laptop = await sign_in(client, name="leaving")
    await client.get(ME, headers=laptop.headers)  # the profile is now cached
    r = await client.delete(ME, headers=phone.headers)
    assert r.status_code == 204
    assert deletion_events == [{"user_id": phone.user_id}]
    assert isinstance(deletion_events[0]["user_id"], uuid.UUID)

    # Still-unexpired tokens of the deleted account, from either device, are refused.
    for device in (phone, laptop):
        denied = await client.get(ME, headers=device.headers)
        assert denied.status_code == 401
        assert denied.json()["code"] == "token-revoked"
        gone = await client.post(f"{AUTH}/refresh", json={"refresh_token": device.refresh_token})
        assert gone.status_code == 401
    # The identity link went with the account: the same person signing in again starts afresh.
    again = await sign_in(client, name="leaving")
    assert again.user_id != phone.user_id


async def test_failed_deletion_keeps_the_account(client: httpx.AsyncClient) -> None:
    """One transaction: if a subscriber cannot erase its part, nothing is erased."""

    async def broken(session: AsyncSession, payload: dict[str, Any]) -> None:
        raise ServiceUnavailable("image store down", code="dependency-unavailable")

    me = await sign_in(client, name="stays")
    events.subscribe(USER_DELETED)(broken)
    try:
        r = await client.delete(ME, headers=me.headers)
    finally:
        events._subscribers[USER_DELETED].remove(broken)
    assert r.status_code == 503
    again = await sign_in(client, name="stays")
    assert again.user_id == me.user_id
    assert (await client.get(ME, headers=again.headers)).status_code == 200


async def test_delete_twice_is_401_not_500(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    assert (await client.delete(ME, headers=me.headers)).status_code == 204
    assert (await client.delete(ME, headers=me.headers)).status_code == 401


async def test_history_and_stats_need_sign_in_and_start_empty(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    r = await client.get(f"{ME}/scans", headers=me.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None}
    stats = await client.get(f"{ME}/stats", headers=me.headers)
    assert stats.status_code == 200
    assert stats.json()["total"] == 0
    assert (await client.get(f"{ME}/scans")).status_code == 401
    assert (await client.get(f"{ME}/stats")).status_code == 401


async def test_history_rejects_bad_cursor_and_limit(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    bad = await client.get(f"{ME}/scans", params={"cursor": "!!not-a-cursor"}, headers=me.headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid-cursor"
    assert (await client.get(f"{ME}/scans", params={"limit": 0}, headers=me.headers)).status_code == 422
    assert (await client.get(f"{ME}/scans", params={"limit": 1000}, headers=me.headers)).status_code == 422


async def test_an_edited_history_cursor_is_a_400(client: httpx.AsyncClient) -> None:
    me = await sign_in(client)
    for question in ("페트병", "캔", "유리병"):
        r = await client.post("/api/v1/waste/scans", json={"question": question}, headers=me.headers)
        assert r.status_code == 202
    page = (await client.get("/api/v1/users/me/scans", params={"limit": 1}, headers=me.headers)).json()
    body, _, tag = page["next_cursor"].partition(".")
    values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for key in values:
        for value in (None, [1], 1e30, "2020-01-01", 7):
            raw = json.dumps(values | {key: value}).encode()
            cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + tag
            r = await client.get("/api/v1/users/me/scans", params={"cursor": cursor}, headers=me.headers)
            assert (r.status_code, r.json()["code"]) == (400, "invalid-cursor"), r.text
