"""Poison messages end in the dead-letter queue with their reason, once, and can be replayed or purged."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from ecoeco.queue import enqueue
from ecoeco.queue.deadletters import DeadLetters, Filter, dead_letters
from ecoeco.runtime import Backends
from tests.queue import sample_tasks as t
from tests.support.fixtures_queue import Workers


@pytest.fixture
async def store(backends: Backends) -> DeadLetters:
    store = dead_letters(backends)
    await store.purge(Filter())  # the vhost is shared by the tests of one xdist worker
    return store


@pytest.mark.slow
async def test_poison_is_retried_then_dead_lettered_and_replayable(
    backends: Backends, workers: Workers, store: DeadLetters
) -> None:
    ref = uuid.uuid4().hex
    async with backends.db.session() as session:
        task_id = await enqueue(session, t.broken, ref=ref)
    await workers.drain(within_s=90)

    [letter] = await store.find(Filter(task="batch.testing.*"))
    assert letter.id == task_id
    assert letter.reason == "retries-exhausted"
    assert letter.error == f"ValueError: cannot process {ref}"
    assert letter.attempts == 3  # the first try + max_retries=2
    assert letter.routing_key == "batch.testing.broken"
    assert letter.kwargs == {"ref": ref}
    assert await t.effects(backends.db, f"dead:{ref}:ValueError") == 1  # on_dead_letter ran once
    assert await t.effects(backends.db, ref) == 0

    await backends.cache.set(f"fixed:{ref}", "1")
    [new_id] = await store.replay(Filter(id=task_id))
    assert new_id != task_id
    await workers.drain(within_s=60)
    assert await t.effects(backends.db, ref) == 1
    assert await store.find(Filter()) == []


async def test_permanent_error_skips_retries(
    backends: Backends, workers: Workers, store: DeadLetters
) -> None:
    ref = uuid.uuid4().hex
    async with backends.db.session() as session:
        await enqueue(session, t.reject, ref=ref)
    await workers.drain()
    [letter] = await store.find(Filter(reason="permanent"))
    assert (letter.attempts, letter.error) == (1, f"PermanentError: {ref} can never work")
    assert await t.effects(backends.db, f"dead:{ref}:PermanentError") == 1


async def test_filters_select_what_purge_and_replay_touch(
    backends: Backends, workers: Workers, store: DeadLetters
) -> None:
    refs = [uuid.uuid4().hex for _ in range(3)]
    async with backends.db.session() as session:
        for ref in refs:
            await enqueue(session, t.reject, ref=ref)
    await workers.drain()
    assert len(await store.find(Filter(task="batch.testing.reject"))) == 3
    assert await store.find(Filter(task="ai.*")) == []
    assert await store.find(Filter(older_than=dt.timedelta(hours=1))) == []
    assert len(await store.find(Filter(newer_than=dt.timedelta(hours=1)))) == 3
    assert await store.purge(Filter(reason=refs[0])) == 1
    remaining = {x.kwargs["ref"] for x in await store.find(Filter())}
    assert remaining == set(refs[1:])
    assert await store.count() == 2
