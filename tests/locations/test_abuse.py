"""What an attacker tried against the public locations API (issue 13), on both backends."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.locations.test_api import GOYANG, URL, backend_db, get_ok, import_reference


@pytest.mark.parametrize("location_id", ["0", "-1", "2147483648", "9223372036854775808", "1e3", "１"])
async def test_ids_no_row_can_have_are_a_422_not_a_database_error(
    client: httpx.AsyncClient, location_id: str
) -> None:
    r = await client.get(f"{URL}/{location_id}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_largest_id_is_simply_not_found(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{URL}/2147483647")
    assert r.status_code == 404 and r.json()["code"] == "location-not-found"


def edited(cursor: str, value: object) -> list[str]:
    """The cursor with each of its values replaced by ``value`` (signature kept), and one unsigned."""
    body, _, tag = cursor.partition(".")
    values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = []
    for key in values:
        raw = json.dumps(values | {key: value}).encode()
        forged.append(base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + tag)
    forged.append(body)  # the old, unsigned form
    return forged


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("", GOYANG | {"limit": 2}),
        ("", {"bbox": "126.0,37.0,128.0,38.0", "limit": 2}),
        ("/search", {"q": "복지", "limit": 1}),
    ],
    ids=["nearest", "bbox", "search"],
)
async def test_edited_cursors_are_a_400(
    app: FastAPI, client: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> None:
    await import_reference(backend_db(app))
    page = await get_ok(client, URL + path, **params)
    assert page["next_cursor"], "the query must have a second page"
    assert (await client.get(URL + path, params=params | {"cursor": page["next_cursor"]})).status_code == 200
    for value in (None, [1], 1e30, "x", 2**63, -1):
        for cursor in edited(page["next_cursor"], value):
            r = await client.get(URL + path, params=params | {"cursor": cursor})
            assert r.status_code == 400, (cursor, r.text)
            assert r.json()["code"] == "invalid-cursor"
