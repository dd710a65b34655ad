"""What an attacker tried against scans (issue 13), each as it was tried, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.waste.service import scans
from ecoeco.waste.service.scans import SHARE_AFTER_CONFIRMATIONS, SSE_MAX_PER_USER
from ecoeco.waste.service.uploads import MAX_OPEN_UPLOADS
from tests.support.auth import SignedIn, sign_in
from tests.support.fixtures_openai import FakeOpenAI
from tests.support.fixtures_queue import Workers
from tests.support.waiting import eventually
from tests.waste.conftest import WASTE, bottle_answer, jpeg, read_events, wait_done
from tests.waste.test_scans import post_photo, put_to, upload


def unsure_answer() -> dict[str, Any]:
    return {**bottle_answer(), "major": None, "middle": None, "item_id": None, "unsure": True}


async def test_one_upload_makes_one_scan_however_many_ask_at_once(
    client: httpx.AsyncClient, workers: Workers, alice: SignedIn, fake_openai: FakeOpenAI
) -> None:
    for _ in range(10):
        fake_openai.answer(bottle_answer())
    upload_id = await upload(client, alice, jpeg("coffee"))
    answers = await asyncio.gather(
        *(
            client.post(f"{WASTE}/scans", json={"upload_id": upload_id}, headers=alice.headers)
            for _ in range(10)
        )
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] + [409] * 9, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"upload-already-used"}
    history = (await client.get("/api/v1/users/me/scans", headers=alice.headers)).json()
    assert len(history["items"]) == 1


async def test_the_original_upload_is_deleted_once_its_clean_copy_is_stored(
    client: httpx.AsyncClient, workers: Workers, alice: SignedIn, fake_openai: FakeOpenAI, app: FastAPI
) -> None:
    fake_openai.answer(bottle_answer())
    photo = jpeg("coffee")  # what a phone sends: it may carry GPS EXIF
    target = (
        await client.post(
            f"{WASTE}/uploads", json={"content_type": "image/jpeg", "size": len(photo)}, headers=alice.headers
        )
    ).json()
    await put_to(client, target["url"], photo, target["headers"])
    storage = app.state.backends.storage
    key = f"uploads/{alice.user_id}/{target['upload_id']}"
    assert await storage.get(key) == photo
    r = await client.post(f"{WASTE}/scans", json={"upload_id": target["upload_id"]}, headers=alice.headers)
    assert r.status_code == 202, r.text
    await workers.drain()
    with pytest.raises(ObjectNotFound):
        await storage.get(key)  # long before the 03:00 clean-up
    scan = await wait_done(client, r.json()["scan_id"], alice)
    thumb = await client.get(scan["image_url"], headers=alice.headers)
    assert thumb.status_code == 200  # the re-encoded, metadata-free copy is what stays


async def test_open_uploads_per_user_are_capped(
    client: httpx.AsyncClient, alice: SignedIn, bob: SignedIn
) -> None:
    ask = {"content_type": "image/jpeg", "size": 1000}
    for _ in range(MAX_OPEN_UPLOADS):
        assert (await client.post(f"{WASTE}/uploads", json=ask, headers=alice.headers)).status_code == 201
    refused = await client.post(f"{WASTE}/uploads", json=ask, headers=alice.headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "too-many-open-uploads" and refused.headers["retry-after"]
    assert (await client.post(f"{WASTE}/uploads", json=ask, headers=bob.headers)).status_code == 201


async def test_a_finished_scans_stream_replays_and_closes_at_once(
    client: httpx.AsyncClient, workers: Workers, alice: SignedIn, fake_openai: FakeOpenAI
) -> None:
    fake_openai.answer(bottle_answer())
    scan_id = (await post_photo(client, alice)).json()["scan_id"]
    await wait_done(client, scan_id, alice)
    everything = await read_events(client, scan_id, alice)
    assert [e.event for e in everything][-2:] == ["done", "reward"]  # the reward outcome comes last
    # Reconnecting after the last event: nothing more can come, so the stream ends with nothing in it
    # (it used to stay open polling the database for five minutes).
    assert await read_events(client, scan_id, alice, last_event_id=everything[-1].id) == []


async def test_event_streams_per_user_are_capped(
    client: httpx.AsyncClient, alice: SignedIn, bob: SignedIn, app: FastAPI
) -> None:
    # No workers: the scans stay queued, so their streams stay open until the client leaves.
    async def queued(user: SignedIn) -> str:
        r = await client.post(f"{WASTE}/scans", json={"question": "페트병"}, headers=user.headers)
        return f"{WASTE}/scans/{r.json()['scan_id']}/events"

    mine, theirs = await queued(alice), await queued(bob)
    backends = app.state.backends
    # The in-process test client hands a response over only once it ends, so the open streams run as
    # tasks; the cap is counted when a stream starts, before any event is sent.
    open_streams = [
        asyncio.create_task(client.get(mine, headers=alice.headers)) for _ in range(SSE_MAX_PER_USER)
    ]
    bobs = asyncio.create_task(client.get(theirs, headers=bob.headers))
    try:
        await eventually(lambda: _open(backends, SSE_MAX_PER_USER + 1), what="every stream open", within_s=30)
        refused = await client.get(mine, headers=alice.headers)
        assert refused.status_code == 429 and refused.json()["code"] == "too-many-streams"
        assert refused.headers["retry-after"]
    finally:
        for task in [*open_streams, bobs]:
            task.cancel()
        await asyncio.gather(*open_streams, bobs, return_exceptions=True)
    await eventually(lambda: _open(backends, 0), what="every slot given back", within_s=30)
    async with scans.stream_slot(backends, alice.user_id):  # and the user may open one again
        pass


async def _open(backends: Backends, expected: int) -> bool:
    return scans.open_streams(backends) == expected


async def test_an_answer_taken_from_the_question_is_never_served_for_anothers_photo(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    # Alice: an inconclusive photo, the question "다 쓴 건전지", then "correct".
    fake_openai.answer(unsure_answer())
    r = await client.post(
        f"{WASTE}/scans",
        files={"image": ("p.jpg", jpeg("coffee"), "image/jpeg"), "question": (None, "다 쓴 건전지")},
        headers=alice.headers,
    )
    poisoned = await wait_done(client, r.json()["scan_id"], alice)
    assert poisoned["result"]["answer"]["middle"] == "battery"
    confirm = await client.post(
        f"{WASTE}/scans/{poisoned['id']}/feedback", json={"correct": True}, headers=alice.headers
    )
    assert confirm.status_code == 201

    # Bob: a similar photo, no question. The model is asked, and says what it sees.
    fake_openai.answer(bottle_answer())
    theirs = await wait_done(client, (await post_photo(client, bob)).json()["scan_id"], bob)
    assert theirs["cache_hit"] is False
    assert theirs["result"]["answer"]["middle"] == bottle_answer()["middle"]
    assert len(fake_openai.requests) == 2


async def test_a_photo_answer_is_shared_only_once_enough_people_confirmed_it(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI
) -> None:
    people = [await sign_in(client, name=f"person{i}") for i in range(SHARE_AFTER_CONFIRMATIONS + 1)]
    *confirmers, newcomer = people
    for n, person in enumerate(confirmers, start=1):
        fake_openai.answer(bottle_answer())
        scan = await wait_done(client, (await post_photo(client, person)).json()["scan_id"], person)
        assert scan["cache_hit"] is False, f"served from the cache after {n - 1} confirmation(s)"
        r = await client.post(
            f"{WASTE}/scans/{scan['id']}/feedback", json={"correct": True}, headers=person.headers
        )
        assert r.status_code == 201
    shared = await wait_done(client, (await post_photo(client, newcomer)).json()["scan_id"], newcomer)
    assert shared["cache_hit"] is True
    assert len(fake_openai.requests) == SHARE_AFTER_CONFIRMATIONS


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/scans", {"question": "페트\u0000병"}),
        ("/scans/{scan}/feedback", {"correct": False, "comment": "a\u0000b"}),
    ],
)
async def test_nul_in_text_is_a_422_on_both_backends(
    client: httpx.AsyncClient, workers: Workers, alice: SignedIn, path: str, body: dict[str, Any]
) -> None:
    scan = await client.post(f"{WASTE}/scans", json={"question": "페트병"}, headers=alice.headers)
    await wait_done(client, scan.json()["scan_id"], alice)
    r = await client.post(WASTE + path.format(scan=scan.json()["scan_id"]), json=body, headers=alice.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    multipart = await client.post(
        f"{WASTE}/scans", files={"question": (None, "a\u0000b")}, headers=alice.headers
    )
    assert multipart.status_code == 422 and multipart.json()["code"] == "invalid-text"
    search = await client.get("/api/v1/recycling/items", params={"q": "a\u0000b"})
    assert search.status_code == 422 and search.json()["code"] == "invalid-text"
