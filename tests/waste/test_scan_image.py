"""GET /waste/scans/{id}/image: a thumbnail of the scan's own (clean) photo, for its owner only."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from tests.support.auth import SignedIn
from tests.support.fixtures_openai import FakeOpenAI
from tests.support.fixtures_queue import Workers
from tests.waste.conftest import WASTE, bottle_answer, jpeg, wait_done
from tests.waste.test_scans import post_photo


async def test_the_owner_gets_a_small_clean_thumbnail(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    fake_openai.answer(bottle_answer())
    big = jpeg("astronaut", exif=Image.Exif().tobytes())
    r = await post_photo(client, alice, big)
    scan_id = r.json()["scan_id"]
    scan = await wait_done(client, scan_id, alice)
    assert scan["image_url"] == f"{WASTE}/scans/{scan_id}/image"
    history = (await client.get("/api/v1/users/me/scans", headers=alice.headers)).json()
    assert history["items"][0]["image_url"] == scan["image_url"]

    thumb = await client.get(scan["image_url"], headers=alice.headers)
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["cache-control"] == "private, max-age=86400"
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert im.format == "JPEG" and max(im.size) == 320
        assert not im.getexif()

    # Another user cannot tell it from a scan that does not exist.
    other = await client.get(scan["image_url"], headers=bob.headers)
    assert other.status_code == 404 and other.json()["code"] == "scan-not-found"
    assert (await client.get(scan["image_url"])).status_code == 401


async def test_a_question_has_no_image(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    r = await client.post(f"{WASTE}/scans", json={"question": "우유팩"}, headers=alice.headers)
    scan = await wait_done(client, r.json()["scan_id"], alice)
    assert scan["image_url"] is None
    missing = await client.get(f"{WASTE}/scans/{scan['id']}/image", headers=alice.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "scan-image-not-found"
