"""Scans through the public HTTP API, on both backends, with real workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from ecoeco.core.clock import Clock, utcnow
from ecoeco.queue import RetryLater, TaskContext
from ecoeco.queue.models import TaskRun
from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.vision import VisionRetryableError
from ecoeco.waste import live
from ecoeco.waste.models import Scan, ScanEvent
from ecoeco.waste.tasks import analyze_scan, fail_stale_scans
from tests.support.auth import SignedIn
from tests.support.fixtures_openai import FakeOpenAI
from tests.support.fixtures_queue import Workers
from tests.waste.conftest import WASTE, bottle_answer, jpeg, png_of_size, read_events, wait_done


async def upload(
    client: httpx.AsyncClient, user: SignedIn, data: bytes, content_type: str = "image/jpeg"
) -> str:
    """Ask for an upload target and PUT the bytes there, as the app would."""
    r = await client.post(
        f"{WASTE}/uploads", json={"content_type": content_type, "size": len(data)}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    target = r.json()
    await put_to(client, target["url"], data, target["headers"])
    return str(target["upload_id"])


async def put_to(client: httpx.AsyncClient, url: str, data: bytes, headers: dict[str, str]) -> httpx.Response:
    if url.startswith(("http://testserver", "http://127.0.0.1:8000")):
        parts = urlsplit(url)
        r = await client.put(f"{parts.path}?{parts.query}", content=data, headers=headers)
    else:  # a pre-signed S3 URL: a real HTTP request to the S3-compatible server
        async with httpx.AsyncClient() as s3:
            r = await s3.put(url, content=data, headers=headers)
    assert r.status_code in (200, 204), r.text
    return r


async def post_photo(
    client: httpx.AsyncClient,
    user: SignedIn,
    data: bytes | None = None,
    *,
    idempotency_key: str | None = None,
) -> httpx.Response:
    """POST a multipart photo scan (the coffee photo by default), as the app would."""
    image = jpeg("coffee") if data is None else data
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return await client.post(
        f"{WASTE}/scans",
        files={"image": ("photo.jpg", image, "image/jpeg")},
        headers={**user.headers, **headers},
    )


async def test_the_whole_journey(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    photo = jpeg("coffee")
    fake_openai.answer(bottle_answer())

    upload_id = await upload(client, alice, photo)
    r = await client.post(
        f"{WASTE}/scans", json={"upload_id": upload_id}, headers={**alice.headers, "Idempotency-Key": "k-1"}
    )
    assert r.status_code == 202, r.text
    accepted = r.json()
    scan_id = accepted["scan_id"]
    assert accepted["events_url"].endswith(f"/scans/{scan_id}/events")

    events = await read_events(client, scan_id, alice)
    stages = [e.data["stage"] for e in events]
    # After "done" the stream waits for what the scan earned (ecoeco.rewards), its last event.
    assert stages == ["preprocessed", "cache_check", "classifying", "rules", "answering", "done", "done"]
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert [e.data["progress"] for e in events] == sorted(e.data["progress"] for e in events)
    assert [e.event for e in events][-2:] == ["done", "reward"]
    # Polls see the end at once: the running scan's cache entry went before the streams were woken.
    assert (await client.get(f"{WASTE}/scans/{scan_id}", headers=alice.headers)).status_code == 200

    scan = await wait_done(client, scan_id, alice)
    assert scan["status"] == "done" and scan["progress"] == 100
    answer = scan["result"]["answer"]
    assert answer["middle"] == bottle_answer()["middle"]
    assert [s["number"] for s in answer["steps"]] == list(range(1, len(answer["steps"]) + 1))
    assert any(t["tag"] == "label_attached" for t in answer["todo"])
    assert scan["result"]["reply"]
    assert len(fake_openai.requests) == 1

    history = (await client.get("/api/v1/users/me/scans", headers=alice.headers)).json()
    assert [s["id"] for s in history["items"]] == [scan_id]

    r = await client.post(f"{WASTE}/scans/{scan_id}/feedback", json={"correct": True}, headers=alice.headers)
    assert r.status_code == 201, r.text

    # The same photo again, re-encoded by the phone: served from the confirmed result, no model call.
    again = await post_photo(client, alice, jpeg("coffee", optimize=True))
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "done"  # answered in the request
    replay = await read_events(client, again.json()["scan_id"], alice)
    assert [(int(e.id or 0), e.event) for e in replay] == [
        (1, "progress"),
        (2, "progress"),
        (3, "done"),
        (4, "reward"),
    ]
    assert replay[3].data["reward"]["reason"] == "confirmed-cache"
    assert replay[1].data["hit"] is True
    assert replay[2].data["result"]["answer"]["disposed_as"] == answer["disposed_as"]
    repeat = await wait_done(client, again.json()["scan_id"], alice)
    assert repeat["cache_hit"] is True
    assert repeat["result"]["answer"]["disposed_as"] == answer["disposed_as"]
    assert len(fake_openai.requests) == 1

    stats = (await client.get("/api/v1/users/me/stats", headers=alice.headers)).json()
    assert stats["total"] == 2 and stats["done"] == 2
    assert stats["current_streak_days"] == 1
    assert stats["by_category"][0]["count"] == 2


async def test_late_subscriber_and_resume_miss_nothing(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(bottle_answer())
    r = await post_photo(client, alice)
    scan_id = r.json()["scan_id"]
    await workers.drain()
    everything = await read_events(client, scan_id, alice)  # subscribed after the scan finished
    assert [e.event for e in everything][-2:] == ["done", "reward"]
    resumed = await read_events(client, scan_id, alice, last_event_id="3")
    assert [e.id for e in resumed] == [e.id for e in everything[3:]]


async def test_question_only_scan_uses_the_knowledge_base(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    r = await client.post(
        f"{WASTE}/scans", json={"question": "우유팩은 어떻게 버려요?"}, headers=alice.headers
    )
    assert r.status_code == 202, r.text
    scan = await wait_done(client, r.json()["scan_id"], alice)
    assert scan["result"]["answer"]["middle"] == "paper_pack"
    assert fake_openai.requests == []


async def test_unsure_photo_asks_for_a_description(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(bottle_answer(unsure=True, confidence=0.2))
    r = await post_photo(client, alice, jpeg("astronaut"))
    scan = await wait_done(client, r.json()["scan_id"], alice)
    assert scan["status"] == "done"
    assert scan["result"]["unsure"] is True and scan["result"]["answer"] is None
    assert scan["result"]["reply"]


@pytest.mark.parametrize("accept_language", ["en-US,en;q=0.9", "fr, en;q=0.8"])
async def test_english_answer_when_asked(
    client: httpx.AsyncClient,
    workers: Workers,
    fake_openai: FakeOpenAI,
    alice: SignedIn,
    accept_language: str,
) -> None:
    r = await client.post(
        f"{WASTE}/scans",
        json={"question": "milk carton"},
        headers={**alice.headers, "Accept-Language": accept_language},
    )
    scan = await wait_done(client, r.json()["scan_id"], alice)
    assert scan["result"]["answer"]["lang"] == "en"


async def test_duplicate_post_with_the_same_key_is_one_scan_and_one_job(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, app: FastAPI
) -> None:
    fake_openai.answer(bottle_answer())
    headers = {**alice.headers, "Idempotency-Key": "same"}

    async def post() -> httpx.Response:
        return await post_photo(client, alice, idempotency_key="same")

    first, second = await asyncio.gather(post(), post())
    assert first.status_code == second.status_code == 202
    assert first.json()["scan_id"] == second.json()["scan_id"]
    await workers.drain()
    third = await post()
    assert third.json()["scan_id"] == first.json()["scan_id"]
    assert third.headers["idempotent-replayed"] == "true"
    assert len(fake_openai.requests) == 1
    history = (await client.get("/api/v1/users/me/scans", headers=alice.headers)).json()
    assert len(history["items"]) == 1

    reused = await client.post(f"{WASTE}/scans", json={"question": "다른 질문"}, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency-key-reused"


async def test_model_failure_marks_the_scan_failed_and_dead_letters(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, app: FastAPI
) -> None:
    fake_openai.fail(401, error_type="invalid_request_error", error_code="invalid_api_key")
    r = await post_photo(client, alice)
    scan_id = r.json()["scan_id"]
    scan = await wait_done(client, scan_id, alice)
    assert scan["status"] == "failed"
    assert scan["error"]["code"] == "vision-unavailable"
    assert "401" not in scan["error"]["message"]  # user-safe wording, not the upstream error
    events = await read_events(client, scan_id, alice)
    assert events[-1].event == "failed"
    backends: Backends = app.state.backends
    async with backends.db.session() as session:
        outcomes = (await session.execute(select(TaskRun.task, TaskRun.outcome))).all()
    assert ("ai.waste.analyze", "dead") in outcomes


# --- bad input: a precise 4xx and nothing stored ------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"this is not an image at all", 415, "unsupported-image-type"),
        (jpeg("coffee")[:2000], 422, None),
        (png_of_size(12_000, 12_000), 422, None),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"<html><script>alert(1)</script>", 422, None),
    ],
    ids=["not-an-image", "truncated", "pixel-bomb", "png-header-polyglot"],
)
async def test_bad_images_are_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, alice: SignedIn, payload: bytes, status: int, code: str | None
) -> None:
    r = await post_photo(client, alice, payload)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if code:
        assert r.json()["code"] == code
    history = (await client.get("/api/v1/users/me/scans", headers=alice.headers)).json()
    assert history["items"] == []


async def test_huge_upload_is_413_before_reading_it(client: httpx.AsyncClient, alice: SignedIn) -> None:
    big = b"\xff\xd8\xff" + b"\x00" * (30 * 1024 * 1024)
    r = await post_photo(client, alice, big)
    assert r.status_code == 413
    r = await client.post(
        f"{WASTE}/uploads",
        json={"content_type": "image/jpeg", "size": 30 * 1024 * 1024},
        headers=alice.headers,
    )
    assert r.status_code == 413


async def test_scan_needs_some_input(client: httpx.AsyncClient, alice: SignedIn) -> None:
    r = await client.post(f"{WASTE}/scans", json={}, headers=alice.headers)
    assert r.status_code == 422
    r = await client.post(
        f"{WASTE}/scans", content=b"x", headers={**alice.headers, "content-type": "text/plain"}
    )
    assert r.status_code == 415
    r = await client.post(f"{WASTE}/scans", json={"question": "x" * 501}, headers=alice.headers)
    assert r.status_code == 422


async def test_scans_need_sign_in(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{WASTE}/scans", json={"question": "페트병"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.embedded_only
async def test_tampered_or_expired_upload_url_is_refused(client: httpx.AsyncClient, alice: SignedIn) -> None:
    data = jpeg("coffee")
    r = await client.post(
        f"{WASTE}/uploads", json={"content_type": "image/jpeg", "size": len(data)}, headers=alice.headers
    )
    target = r.json()
    parts = urlsplit(target["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}

    forged = {**query, "sig": "0" * 64}
    r = await client.put(f"{parts.path}?{urlencode(forged)}", content=data, headers=target["headers"])
    assert r.status_code == 403 and r.json()["code"] == "upload-signature-invalid"

    stretched = {**query, "expires": str(int(query["expires"]) + 3600)}
    r = await client.put(f"{parts.path}?{urlencode(stretched)}", content=data, headers=target["headers"])
    assert r.status_code == 403

    r = await client.put(f"{parts.path}?{parts.query}", content=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 415

    r = await client.put(f"{parts.path}?{parts.query}", content=data + b"extra", headers=target["headers"])
    assert r.status_code == 413

    ok = await client.put(f"{parts.path}?{parts.query}", content=data, headers=target["headers"])
    assert ok.status_code == 204
    replay = await client.put(f"{parts.path}?{parts.query}", content=data, headers=target["headers"])
    assert replay.status_code == 409


@pytest.mark.embedded_only
async def test_expired_upload_url(client: httpx.AsyncClient, alice: SignedIn, clock: Clock) -> None:
    data = jpeg("coffee")
    target = (
        await client.post(
            f"{WASTE}/uploads", json={"content_type": "image/jpeg", "size": len(data)}, headers=alice.headers
        )
    ).json()
    parts = urlsplit(target["url"])
    clock.advance(15 * 60 + 1)  # the URL lives 15 minutes
    r = await client.put(f"{parts.path}?{parts.query}", content=data, headers=target["headers"])
    assert r.status_code == 403
    assert r.json()["code"] == "upload-url-expired"


async def test_upload_ids_are_private_and_single_use(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    fake_openai.answer(bottle_answer())
    upload_id = await upload(client, alice, jpeg("coffee"))

    theirs = await client.post(f"{WASTE}/scans", json={"upload_id": upload_id}, headers=bob.headers)
    assert theirs.status_code == 404 and theirs.json()["code"] == "upload-not-found"
    unknown = await client.post(
        f"{WASTE}/scans", json={"upload_id": str(uuid.uuid4())}, headers=alice.headers
    )
    assert unknown.status_code == 404

    first = await client.post(f"{WASTE}/scans", json={"upload_id": upload_id}, headers=alice.headers)
    assert first.status_code == 202
    again = await client.post(f"{WASTE}/scans", json={"upload_id": upload_id}, headers=alice.headers)
    assert again.status_code == 409


async def test_an_upload_that_never_arrived(client: httpx.AsyncClient, alice: SignedIn) -> None:
    r = await client.post(
        f"{WASTE}/uploads", json={"content_type": "image/jpeg", "size": 1000}, headers=alice.headers
    )
    r = await client.post(f"{WASTE}/scans", json={"upload_id": r.json()["upload_id"]}, headers=alice.headers)
    assert r.status_code == 409 and r.json()["code"] == "upload-missing"


async def test_nobody_sees_or_touches_another_users_scan(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    fake_openai.answer(bottle_answer())
    r = await post_photo(client, alice)
    scan_id = r.json()["scan_id"]
    await wait_done(client, scan_id, alice)

    for method, path, body in [
        ("GET", f"{WASTE}/scans/{scan_id}", None),
        ("GET", f"{WASTE}/scans/{scan_id}/events", None),
        ("POST", f"{WASTE}/scans/{scan_id}/feedback", {"correct": False}),
    ]:
        r = await client.request(method, path, json=body, headers=bob.headers)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == "scan-not-found"
    assert (await client.get("/api/v1/users/me/scans", headers=bob.headers)).json()["items"] == []
    assert (await client.get("/api/v1/users/me/stats", headers=bob.headers)).json()["total"] == 0
    # Bob's feedback attempt changed nothing for Alice.
    assert (await client.get(f"{WASTE}/scans/{scan_id}", headers=alice.headers)).json()["feedback"] is None


async def test_a_running_scan_is_polled_from_the_cache_by_its_owner_alone(
    client: httpx.AsyncClient, app: FastAPI, alice: SignedIn, bob: SignedIn
) -> None:
    # No workers run: the scan stays at the stage intake left it in.
    r = await post_photo(client, alice)
    scan_id = r.json()["scan_id"]
    backends: Backends = app.state.backends
    assert await live.running_body(backends.cache, alice.user_id, uuid.UUID(scan_id)) is not None

    cached = await client.get(f"{WASTE}/scans/{scan_id}", headers=alice.headers)
    assert cached.status_code == 202
    assert cached.headers["retry-after"] == "1"
    assert (cached.json()["stage"], cached.json()["progress"]) == ("cache_check", 25)
    r = await client.get(f"{WASTE}/scans/{scan_id}", headers=bob.headers)
    assert r.status_code == 404, r.text

    await live.forget(backends.cache, uuid.UUID(scan_id))  # the same question, now to the database
    stored = await client.get(f"{WASTE}/scans/{scan_id}", headers=alice.headers)
    assert stored.status_code == 202
    assert stored.json() == cached.json()


async def test_feedback_rules(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    fake_openai.answer(bottle_answer())
    r = await post_photo(client, alice)
    scan_id = r.json()["scan_id"]
    await wait_done(client, scan_id, alice)
    bad = await client.post(
        f"{WASTE}/scans/{scan_id}/feedback",
        json={"correct": False, "item_id": "no-such"},
        headers=alice.headers,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "unknown-item"
    extra = await client.post(
        f"{WASTE}/scans/{scan_id}/feedback", json={"correct": True, "score": 5}, headers=alice.headers
    )
    assert extra.status_code == 422

    # Alice corrects the answer: her repeat photo gets her correction, Bob's gets the model again.
    correction = await client.post(
        f"{WASTE}/scans/{scan_id}/feedback",
        json={"correct": False, "item_id": "milk_carton"},
        headers=alice.headers,
    )
    if correction.status_code == 422:  # the knowledge base names milk cartons differently
        pytest.fail(f"item id used by the test is missing from the knowledge base: {correction.text}")
    assert correction.status_code == 201
    repeat = await post_photo(client, alice)
    mine = await wait_done(client, repeat.json()["scan_id"], alice)
    assert mine["cache_hit"] is True
    assert mine["result"]["answer"]["target"] == "milk_carton"

    fake_openai.answer(bottle_answer())
    other = await post_photo(client, bob)
    theirs = await wait_done(client, other.json()["scan_id"], bob)
    assert theirs["cache_hit"] is False


async def test_deleting_the_account_erases_scans_and_images(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, app: FastAPI
) -> None:
    fake_openai.answer(bottle_answer())
    r = await post_photo(client, alice)
    scan_id = r.json()["scan_id"]
    await wait_done(client, scan_id, alice)
    pending_upload = await upload(client, alice, jpeg("chelsea"))
    backends: Backends = app.state.backends
    image_key = f"scans/{alice.user_id}/{scan_id}.jpg"
    upload_key = f"uploads/{alice.user_id}/{pending_upload}"
    assert await backends.storage.get(image_key)
    assert await backends.storage.get(upload_key)

    r = await client.delete("/api/v1/users/me", headers=alice.headers)
    assert r.status_code == 204, r.text
    await workers.drain()

    for key in (image_key, upload_key):
        with pytest.raises(ObjectNotFound):
            await backends.storage.get(key)
    async with backends.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Scan)) == 0
        assert await session.scalar(select(func.count()).select_from(ScanEvent)) == 0


@pytest.mark.parametrize("vision_backend", ["local"])
async def test_the_local_model_answers_a_real_photo(
    client: httpx.AsyncClient, workers: Workers, alice: SignedIn, vision_backend: str
) -> None:
    """The embedded default end to end: EfficientNet-Lite0 on a real photo of an espresso cup."""
    r = await post_photo(client, alice)
    scan = await wait_done(client, r.json()["scan_id"], alice)
    assert scan["result"]["unsure"] is False
    answer = scan["result"]["answer"]
    assert answer["major"] == "non_combustible"
    assert answer["disposed_as"] == "mug"  # ceramics: the non-combustible sack, not recycling
    assert answer["steps"]


async def test_a_rate_limited_model_is_retried_when_its_server_says(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, alice: SignedIn, app: FastAPI
) -> None:
    # No workers run: the test plays the worker's part once.
    fake_openai.fail(
        429, headers={"retry-after": "30"}, error_type="requests", error_code="rate_limit_exceeded"
    )
    scan_id = (await post_photo(client, alice)).json()["scan_id"]
    ctx = TaskContext(backends=app.state.backends, task_id="t", name=analyze_scan.name, attempt=1)
    with pytest.raises(RetryLater) as info:
        await analyze_scan.fn(ctx, scan_id=scan_id)
    assert info.value.after_s == 30
    assert isinstance(info.value.__cause__, VisionRetryableError)


async def test_a_scan_whose_job_vanished_is_failed_by_the_hourly_sweep(
    client: httpx.AsyncClient, alice: SignedIn, app: FastAPI
) -> None:
    # No workers run: the job sits unprocessed, as if it had expired in the broker unseen.
    r = await client.post(f"{WASTE}/scans", json={"question": "페트병"}, headers=alice.headers)
    scan_id = uuid.UUID(r.json()["scan_id"])
    backends: Backends = app.state.backends
    assert await fail_stale_scans(backends) == 0  # fresh scans are left alone

    async with backends.db.session() as session:
        await session.execute(
            update(Scan).where(Scan.id == scan_id).values(updated_at=utcnow() - dt.timedelta(hours=1))
        )
    assert await fail_stale_scans(backends) == 1
    scan = (await client.get(f"{WASTE}/scans/{scan_id}", headers=alice.headers)).json()
    assert scan["status"] == "failed"
    assert scan["error"]["code"] == "analysis-timeout"
    assert await fail_stale_scans(backends) == 0
