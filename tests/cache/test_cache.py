from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ecoeco.cache import Cache, create_cache
from ecoeco.settings import Settings


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


async def test_ttl_expires(cache: Cache) -> None:
    await cache.set("short", "v", ttl=0.05)
    await asyncio.sleep(0.15)
    assert await cache.get("short") is None


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
