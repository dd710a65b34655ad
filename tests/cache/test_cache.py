from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ecoeco.cache import Cache, create_cache
from ecoeco.core.aio import wait_event
from ecoeco.core.clock import Clock
from ecoeco.settings import Settings
from tests.support.waiting import eventually


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[Cache]:
    c = create_cache(settings.redis_url, prefix=settings.redis_prefix)
    yield c
    await c.close()


async def test_set_get_delete(cache: Cache) -> None:
    assert await cache.get("k") is None
    assert await cache.set("k", "v")
    assert await cache.get("k") == b"v"
    assert await cache.delete("k", "missing") == 1
    assert await cache.get("k") is None


async def test_only_if_absent(cache: Cache) -> None:
    assert await cache.set("once", "a", only_if_absent=True)
    assert not await cache.set("once", "b", only_if_absent=True)
    assert await cache.get("once") == b"a"


async def test_pop_is_single_use(cache: Cache) -> None:
    await cache.set("state", "x", ttl=60)
    results = await asyncio.gather(*(cache.pop("state") for _ in range(5)))
    assert results.count(b"x") == 1


async def test_compare_and_set_changes_only_the_expected_value(cache: Cache) -> None:
    assert not await cache.compare_and_set("lease", "mine", "mine", ttl=30)  # nothing there to renew
    await cache.set("lease", "theirs", ttl=30)
    assert not await cache.compare_and_set("lease", "mine", "mine", ttl=30)
    assert not await cache.compare_and_set("lease", "mine", None)
    assert await cache.get("lease") == b"theirs"
    assert await cache.compare_and_set("lease", "theirs", "theirs-renewed", ttl=30)
    assert await cache.get("lease") == b"theirs-renewed"
    assert await cache.compare_and_set("lease", "theirs-renewed", None)
    assert await cache.get("lease") is None


async def test_compare_and_set_is_atomic_under_concurrency(cache: Cache) -> None:
    await cache.set("lease", "0", ttl=30)
    results = await asyncio.gather(
        *(cache.compare_and_set("lease", "0", str(i), ttl=30) for i in range(1, 20))
    )
    assert results.count(True) == 1


async def test_ttl_expires(cache: Cache, clock: Clock) -> None:
    await cache.set("short", "v", ttl=0.05)
    clock.advance(1)  # the in-process cache's time; Redis keeps its own, so there the expiry is awaited

    async def gone() -> bool:
        return await cache.get("short") is None

    await eventually(gone, within_s=5, what="the key expired")


async def test_incr_counts_within_window(cache: Cache) -> None:
    values = [await cache.incr("rl", ttl=30) for _ in range(3)]
    assert [v for v, _ in values] == [1, 2, 3]
    assert 0 < values[-1][1] <= 30


async def test_incr_is_atomic_under_concurrency(cache: Cache) -> None:
    results = await asyncio.gather(*(cache.incr("c", ttl=30) for _ in range(50)))
    assert sorted(v for v, _ in results) == list(range(1, 51))


async def test_delete_prefix(cache: Cache) -> None:
    for i in range(5):
        await cache.set(f"grp:{i}", "v")
    await cache.set("other", "v")
    assert await cache.delete_prefix("grp:") == 5
    assert await cache.get("other") == b"v"


async def notify_until_heard(notifier: Cache, channel: str, heard: asyncio.Event) -> None:
    """Redis delivers through a subscription that starts in the background: notify until it lands."""

    async def delivered() -> bool:
        await notifier.notify(channel)
        return await wait_event(heard, 0.2)

    await eventually(delivered, within_s=10, every_s=0, what=f"a notification on {channel} heard")


async def test_notify_wakes_listeners_of_that_channel_only(cache: Cache) -> None:
    async with cache.listen("scan:1") as one, cache.listen("scan:2") as two:
        await notify_until_heard(cache, "scan:1", one)
        assert not two.is_set()


async def test_notifications_cross_cache_instances(settings: Settings) -> None:
    # Distributed: the API process listens, a worker process notifies (two clients here).
    listener = create_cache(settings.redis_url, prefix=settings.redis_prefix)
    notifier = (
        listener
        if settings.redis_url is None
        else create_cache(settings.redis_url, prefix=settings.redis_prefix)
    )
    try:
        async with listener.listen("scan:x") as changed:
            await notify_until_heard(notifier, "scan:x", changed)
    finally:
        await listener.close()
        if notifier is not listener:
            await notifier.close()
