"""Fixtures for scan tests: an app whose vision adapter talks to the fake OpenAI server, and helpers
that drive the public HTTP API the way the mobile app does."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from PIL import Image
from pydantic import SecretStr

from ecoeco.app import create_app
from ecoeco.recycling.knowledge import get_knowledge_base
from ecoeco.settings import Settings
from tests.support.auth import SignedIn, sign_in
from tests.support.fixtures_openai import API_KEY, FakeOpenAI
from tests.support.sample_images import encode, photo
from tests.support.waiting import eventually

WASTE = "/api/v1/waste"


@pytest.fixture
def vision_backend() -> str:
    """Parametrize with "local" to run the embedded default model instead of the scripted one."""
    return "openai"


@pytest.fixture
def settings_openai(settings: Settings, fake_openai: FakeOpenAI, vision_backend: str) -> Settings:
    """The scan tests script the model's answers through a real OpenAI-compatible HTTP server."""
    if vision_backend == "local":
        return settings
    return settings.model_copy(
        update={
            "vision_backend": "openai",
            "vision_base_url": fake_openai.base_url,
            "vision_api_key": SecretStr(API_KEY),
            "vision_max_retries": 0,
        }
    )


@pytest.fixture
async def app(settings_openai: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings_openai)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> SignedIn:
    return await sign_in(client, name="alice")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> SignedIn:
    return await sign_in(client, name="bob")


def bottle_answer(**overrides: Any) -> dict[str, Any]:
    """What a vision model says about a clear PET water bottle with its label still on."""
    kb = get_knowledge_base()
    item = kb.search("생수병", limit=1)[0].item
    answer = {
        "major": kb.middles[item.middle].major,
        "middle": item.middle,
        "item_id": item.id,
        "item_name": item.name_ko,
        "tags": ["label_attached"],
        "confidence": 0.93,
        "unsure": False,
    }
    answer.update(overrides)
    return answer


def jpeg(name: str = "coffee", **params: Any) -> bytes:
    return encode(photo(name), "JPEG", quality=90, **params)


def png_of_size(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: Any


def parse_sse(text: str) -> list[SseEvent]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" in fields:
            events.append(SseEvent(fields.get("id"), fields.get("event"), json.loads(fields["data"])))
    return events


async def read_events(
    client: httpx.AsyncClient, scan_id: str, user: SignedIn, *, last_event_id: str | None = None
) -> list[SseEvent]:
    headers = dict(user.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with asyncio.timeout(60):
        r = await client.get(f"{WASTE}/scans/{scan_id}/events", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


async def wait_done(client: httpx.AsyncClient, scan_id: str, user: SignedIn) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        r = await client.get(f"{WASTE}/scans/{scan_id}", headers=user.headers)
        if r.status_code == 200:
            body: dict[str, Any] = r.json()
            return body
        assert r.status_code == 202, r.text
        assert r.headers["retry-after"]
        return None

    return await eventually(finished, within_s=60, what=f"scan {scan_id} done or failed")
