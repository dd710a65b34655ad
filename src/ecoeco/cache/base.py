"""The cache port and its two adapters.

The operations are the small set our features need (single-use state, rate-limit counters,
deny-lists, result caching); both adapters implement them atomically.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from typing import cast

import redis.asyncio as aioredis


class Cache(ABC):
    backend: str

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set(
        self, key: str, value: bytes | str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        """Store ``value``; with ``only_if_absent`` return False (and store nothing) if the key exists."""

    @abstractmethod
    async def pop(self, key: str) -> bytes | None:
        """Atomically read and delete (single-use values such as OAuth state)."""

    @abstractmethod
    async def delete(self, *keys: str) -> int: ...

    @abstractmethod
    async def incr(self, key: str, *, ttl: float) -> tuple[int, float]:
        """Increment a counter that expires ``ttl`` seconds after its first increment.

        Returns the new value and the seconds left before it resets.
        """

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int: ...

    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


class MemoryCache(Cache):
    """Single-process cache for embedded mode. Expired keys are dropped lazily and by :meth:`sweep`."""

    backend = "memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._lock = asyncio.Lock()

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(
        self, key: str, value: bytes | str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        data = value.encode() if isinstance(value, str) else value
        self._data[key] = (data, time.monotonic() + ttl if ttl else None)
        return True

    async def pop(self, key: str) -> bytes | None:
        item = self._live(key)
        if item is None:
            return None
        del self._data[key]
        return item[0]

    async def delete(self, *keys: str) -> int:
        return sum(self._data.pop(k, None) is not None for k in keys)

    async def incr(self, key: str, *, ttl: float) -> tuple[int, float]:
        async with self._lock:
            now = time.monotonic()
            item = self._live(key)
            if item is None:
                value, expires = 1, now + ttl
            else:
                value, expires = int(item[0]) + 1, item[1] or now + ttl
            self._data[key] = (str(value).encode(), expires)
            return value, max(0.0, expires - now)

    async def delete_prefix(self, prefix: str) -> int:
        keys = [k for k in self._data if k.startswith(prefix)]
        return await self.delete(*keys)

    def sweep(self) -> int:
        now = time.monotonic()
        expired = [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]
        for k in expired:
            del self._data[k]
        return len(expired)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


class RedisCache(Cache):
    backend = "redis"

    _INCR = """
local v = redis.call('INCR', KEYS[1])
if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {v, redis.call('PTTL', KEYS[1])}
"""

    def __init__(self, url: str, *, prefix: str = "") -> None:
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30
        )
        self._incr = self.client.register_script(self._INCR)

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:
        return cast(bytes | None, await self.client.get(self._k(key)))

    async def set(
        self, key: str, value: bytes | str, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        px = int(ttl * 1000) if ttl else None
        return bool(await self.client.set(self._k(key), value, px=px, nx=only_if_absent))

    async def pop(self, key: str) -> bytes | None:
        return cast(bytes | None, await self.client.getdel(self._k(key)))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self.client.delete(*(self._k(k) for k in keys)))

    async def incr(self, key: str, *, ttl: float) -> tuple[int, float]:
        value, pttl = await self._incr(keys=[self._k(key)], args=[int(ttl * 1000)])
        return int(value), max(0.0, int(pttl) / 1000)

    async def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        async for key in self.client.scan_iter(match=self._k(prefix) + "*", count=500):
            deleted += int(await self.client.delete(key))
        return deleted

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def create_cache(redis_url: str | None, *, prefix: str = "") -> Cache:
    return RedisCache(redis_url, prefix=prefix) if redis_url else MemoryCache()
