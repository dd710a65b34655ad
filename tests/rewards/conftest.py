"""Reward tests drive real scans: the scan fixtures of tests/waste (the scripted vision model) apply."""

from __future__ import annotations

from typing import Any

import httpx

from ecoeco.recycling.knowledge import get_knowledge_base
from tests.support.auth import SignedIn
from tests.support.fixtures_queue import Workers
from tests.waste.conftest import WASTE, alice, app, bob, settings_openai, vision_backend, wait_done

__all__ = ["alice", "app", "bob", "settings_openai", "vision_backend"]


def model_says(query: str, *, tags: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """A confident model answer naming the item the knowledge base finds for ``query``."""
    kb = get_knowledge_base()
    item = kb.search(query, limit=1)[0].item
    return {
        "major": kb.middles[item.middle].major,
        "middle": item.middle,
        "item_id": item.id,
        "item_name": item.name_ko,
        "tags": list(tags),
        "confidence": 0.95,
        "unsure": False,
        **overrides,
    }


async def scan_photo(
    client: httpx.AsyncClient, workers: Workers, user: SignedIn, image: bytes, *, question: str | None = None
) -> dict[str, Any]:
    """POST a photo scan, wait for its answer and for every job after it (the reward); the final scan."""
    data = {"question": question} if question else None
    r = await client.post(
        f"{WASTE}/scans", files={"image": ("p.jpg", image, "image/jpeg")}, data=data, headers=user.headers
    )
    assert r.status_code == 202, r.text
    scan_id = r.json()["scan_id"]
    await wait_done(client, scan_id, user)
    await workers.drain()
    scan: dict[str, Any] = (await client.get(f"{WASTE}/scans/{scan_id}", headers=user.headers)).json()
    return scan


async def collection(client: httpx.AsyncClient, user: SignedIn) -> dict[str, str | None]:
    """character id → the scan that earned it."""
    r = await client.get("/api/v1/users/me/characters", headers=user.headers)
    assert r.status_code == 200, r.text
    return {o["character"]["id"]: o["scan_id"] for o in r.json()["owned"]}
