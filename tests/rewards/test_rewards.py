"""Rewards end to end: real scans through the scripted model, the grant job on q.api, the HTTP API.

Each abuse case of src/ecoeco/rewards/ABUSE.md has a test here, named after it.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ecoeco.core.clock import KST, utcnow
from ecoeco.queue import enqueue
from ecoeco.rewards import repository
from ecoeco.rewards.models import OwnedCharacter
from ecoeco.rewards.tasks import grant
from ecoeco.runtime import Backends
from ecoeco.waste.models import ScanEvent
from tests.rewards.conftest import collection, model_says, scan_photo
from tests.support.auth import SignedIn, sign_in
from tests.support.fixtures_openai import FakeOpenAI
from tests.support.fixtures_queue import Workers
from tests.waste.conftest import WASTE, jpeg, read_events

PET = "생수병"  # clear_pet → Petty
CAN = "참치캔"  # metal → Metally


async def test_the_public_catalogue_has_one_character_per_recyclable_kind_and_the_mascot(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v1/rewards/characters")
    assert r.status_code == 200, r.text
    characters = r.json()["characters"]
    assert len(characters) == 13
    assert [c["id"] for c in characters if c["mascot"]] == ["eco"]
    categories = (await client.get("/api/v1/recycling/categories")).json()
    recyclable = next(m for m in categories["majors"] if m["id"] == "recyclable")
    assert sorted(c["category"] for c in characters if not c["mascot"]) == sorted(
        m["id"] for m in recyclable["middles"]
    )
    english = (await client.get("/api/v1/rewards/characters", headers={"Accept-Language": "en"})).json()
    assert english["characters"][0]["name"] == "Eco" and characters[0]["name"] == "이코"
    assert all(len(c["lines"]) >= 2 for c in english["characters"])


async def test_sign_up_grants_the_mascot_and_each_user_sees_only_their_own(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    assert await collection(client, alice) == {"eco": None}
    fake_openai.answer(model_says(PET))
    scan = await scan_photo(client, workers, alice, jpeg("coffee"))
    assert scan["result"]["reward"] == {"earned": "petty", "name": "페티", "reason": None}
    assert await collection(client, alice) == {"eco": None, "petty": scan["id"]}
    assert await collection(client, bob) == {"eco": None}
    r = await client.get("/api/v1/users/me/characters")
    assert r.status_code == 401


async def test_the_event_stream_ends_with_what_was_earned(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    r = await client.post(
        f"{WASTE}/scans", files={"image": ("p.jpg", jpeg("coffee"), "image/jpeg")}, headers=alice.headers
    )
    events = await read_events(client, r.json()["scan_id"], alice)
    assert [e.event for e in events][-2:] == ["done", "reward"]
    assert events[-1].data["reward"]["earned"] == "petty"


async def test_question_only_scans_never_earn(
    client: httpx.AsyncClient, workers: Workers, alice: SignedIn
) -> None:
    r = await client.post(f"{WASTE}/scans", json={"question": "다 마신 생수병"}, headers=alice.headers)
    assert r.status_code == 202, r.text
    await workers.drain()
    scan = (await client.get(f"{WASTE}/scans/{r.json()['scan_id']}", headers=alice.headers)).json()
    assert scan["result"]["answer"]["middle"] == "clear_pet"
    assert scan["result"]["reward"]["reason"] == "question-only"
    assert await collection(client, alice) == {"eco": None}


async def test_a_photo_with_a_question_does_not_earn(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    scan = await scan_photo(client, workers, alice, jpeg("coffee"), question="투명 페트병")
    assert scan["result"]["reward"]["reason"] == "question-assisted"


async def test_an_unsure_answer_does_not_earn(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET, unsure=True, confidence=0.2))
    scan = await scan_photo(client, workers, alice, jpeg("coffee"))
    assert scan["result"]["reward"]["reason"] == "unsure"


async def test_general_waste_does_not_earn(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says("칫솔"))
    scan = await scan_photo(client, workers, alice, jpeg("coffee"))
    assert scan["result"]["answer"]["major"] == "general"
    assert scan["result"]["reward"]["reason"] == "not-recyclable"


async def test_a_preparation_step_left_undone_does_not_earn(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET, tags=("label_attached",)))
    scan = await scan_photo(client, workers, alice, jpeg("coffee"))
    assert scan["result"]["answer"]["todo"]
    assert scan["result"]["reward"]["reason"] == "preparation-left"
    assert await collection(client, alice) == {"eco": None}


async def test_the_same_photo_again_does_not_earn_even_as_another_kind(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET, tags=("label_attached",)))  # first try: not earned
    await scan_photo(client, workers, alice, jpeg("coffee"))
    fake_openai.answer(model_says(CAN))  # the same picture, re-encoded, now "a can"
    scan = await scan_photo(client, workers, alice, jpeg("coffee", optimize=True))
    assert scan["result"]["reward"]["reason"] == "seen-before"
    assert await collection(client, alice) == {"eco": None}


async def test_a_confirmed_answer_of_other_peoples_photo_does_not_earn(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn, bob: SignedIn
) -> None:
    for user in (alice, bob):
        fake_openai.answer(model_says(PET))
        scan = await scan_photo(client, workers, user, jpeg("coffee"))
        r = await client.post(
            f"{WASTE}/scans/{scan['id']}/feedback", json={"correct": True}, headers=user.headers
        )
        assert r.status_code == 201, r.text
    carol = await sign_in(client, name="carol")
    scan = await scan_photo(client, workers, carol, jpeg("coffee", optimize=True))
    assert scan["cache_hit"] is True
    assert scan["result"]["reward"]["reason"] == "confirmed-cache"
    assert await collection(client, carol) == {"eco": None}


async def test_a_character_is_owned_once(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    first = await scan_photo(client, workers, alice, jpeg("coffee"))
    fake_openai.answer(model_says(PET))
    second = await scan_photo(client, workers, alice, jpeg("rocket"))
    assert second["result"]["reward"]["reason"] == "already-owned"
    assert await collection(client, alice) == {"eco": None, "petty": first["id"]}


@pytest.mark.settings(rewards_daily_limit=1)
async def test_at_most_the_daily_limit_a_day(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    await scan_photo(client, workers, alice, jpeg("coffee"))
    fake_openai.answer(model_says(CAN))
    scan = await scan_photo(client, workers, alice, jpeg("rocket"))
    assert scan["result"]["reward"]["reason"] == "daily-limit"
    assert set(await collection(client, alice)) == {"eco", "petty"}


async def test_wrong_feedback_takes_the_reward_back_unless_confirmed_first(
    client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    pet = await scan_photo(client, workers, alice, jpeg("coffee"))
    fake_openai.answer(model_says(CAN))
    can = await scan_photo(client, workers, alice, jpeg("rocket"))
    assert set(await collection(client, alice)) == {"eco", "petty", "metally"}

    async def feedback(scan_id: str, correct: bool) -> None:
        r = await client.post(
            f"{WASTE}/scans/{scan_id}/feedback", json={"correct": correct}, headers=alice.headers
        )
        assert r.status_code == 201, r.text

    await feedback(pet["id"], False)
    await feedback(can["id"], True)
    await feedback(can["id"], False)  # confirmed right first: a later "wrong" does not undo it
    assert set(await collection(client, alice)) == {"eco", "metally"}
    pet = (await client.get(f"{WASTE}/scans/{pet['id']}", headers=alice.headers)).json()
    assert pet["result"]["reward"] == {"earned": None, "name": None, "reason": "marked-wrong"}


async def test_a_redelivered_event_grants_once(
    app: FastAPI, client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    scan = await scan_photo(client, workers, alice, jpeg("coffee"))
    backends: Backends = app.state.backends
    for n in range(2):  # the same event delivered again, as new jobs (another key each time)
        async with backends.db.session() as session:
            await enqueue(session, grant, scan_id=scan["id"], key=f"again:{n}")
    await workers.drain()
    scan_id = uuid.UUID(scan["id"])
    async with backends.db.session() as session:
        owned = await session.scalar(select(func.count()).where(OwnedCharacter.scan_id == scan_id))
        rewards = await session.scalar(
            select(func.count()).where(ScanEvent.scan_id == scan_id, ScanEvent.type == "reward")
        )
    assert (owned, rewards) == (1, 1)


async def test_deleting_the_account_erases_the_collection(
    app: FastAPI, client: httpx.AsyncClient, workers: Workers, fake_openai: FakeOpenAI, alice: SignedIn
) -> None:
    fake_openai.answer(model_says(PET))
    await scan_photo(client, workers, alice, jpeg("coffee"))
    r = await client.delete("/api/v1/users/me", headers=alice.headers)
    assert r.status_code == 204, r.text
    backends: Backends = app.state.backends
    async with backends.db.session() as session:
        left = await session.scalar(select(func.count()).where(OwnedCharacter.user_id == alice.user_id))
    assert left == 0


async def test_two_grants_cannot_take_the_same_daily_slot(app: FastAPI, alice: SignedIn) -> None:
    """What keeps concurrent grants under the daily limit: the (user, day, slot) key."""
    backends: Backends = app.state.backends
    day = utcnow().astimezone(KST).date()
    async with backends.db.session() as session:
        first = await repository.add(
            session,
            user_id=alice.user_id,
            character_id="petty",
            scan_id=None,
            earned_at=utcnow(),
            day=day,
            slot=1,
        )
        second = await repository.add(
            session,
            user_id=alice.user_id,
            character_id="metally",
            scan_id=None,
            earned_at=utcnow(),
            day=day,
            slot=1,
        )
    assert (first, second) == (True, False)
