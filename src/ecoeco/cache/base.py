"""The cache port and its two adapters.

The operations are the small set our features need (single-use state, rate-limit counters,
deny-lists, result caching, change notifications); both adapters implement them atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import cast

import redis.asyncio as aioredis
import structlog

from ecoeco.core.clock import clock

log = structlog.get_logger(__name__)


class _LocalWaiters:
    """Wakes the coroutines of this process that wait on a channel."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def wake(self, channel: str) -> None:
        for event in self._events.get(channel, ()):
            event.set()

    @contextlib.asynccontextmanager
    async def listen(self, channel: str) -> AsyncIterator[asyncio.Event]:
        event = asyncio.Event()
        self._events[channel].add(event)
        try:
            yield event
        finally:
            self._events[channel].discard(event)
            if not self._events[channel]:
                del self._events[channel]


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
    async def compare_and_set(
        self, key: str, expected: bytes | str, value: bytes | str | None, *, ttl: float | None = None
    ) -> bool:
        """Atomically: if ``key`` holds ``expected``, store ``value`` (or delete the key when None) and
        return True; otherwise change nothing (leases: renew or release only one's own)."""

    @abstractmethod
    async def delete(self, *keys: str) -> int: ...

    @abstractmethod
    async def incr(self, key: str, *, ttl: float) -> tuple[int, float]:
        """Increment a counter that expires ``ttl`` seconds after its first increment.

        Returns the new value and the seconds left before it resets.
        """

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int: ...

    def sweep(self) -> int:
        """Drop expired entries now; returns how many. Redis expires keys by itself (nothing to do)."""
        return 0

    @abstractmethod
    async def notify(self, channel: str) -> None:
        """Wake every listener of ``channel``, in any process sharing this cache (best effort)."""

    @abstractmethod
    def listen(self, channel: str) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
        """An event set whenever ``channel`` is notified; clear it before re-checking state."""

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
        self._waiters = _LocalWaiters()

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= clock.monotonic():
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
        self._data[key] = (_bytes(value), clock.monotonic() + ttl if ttl else None)
        return True

    async def pop(self, key: str) -> bytes | None:
        item = self._live(key)
        if item is None:
            return None
        del self._data[key]
        return item[0]

    async def compare_and_set(
        self, key: str, expected: bytes | str, value: bytes | str | None, *, ttl: float | None = None
    ) -> bool:
        async with self._lock:
            item = self._live(key)
            if item is None or item[0] != _bytes(expected):
                return False
            if value is None:
                del self._data[key]
            else:
                self._data[key] = (_bytes(value), clock.monotonic() + ttl if ttl else None)
            return True

    async def delete(self, *keys: str) -> int:
        return sum(self._data.pop(k, None) is not None for k in keys)

    async def incr(self, key: str, *, ttl: float) -> tuple[int, float]:
        async with self._lock:
            now = clock.monotonic()
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

    def sweep(self) -> int:  # expired keys are otherwise dropped only when read
        now = clock.monotonic()
        expired = [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]
        for k in expired:
            del self._data[k]
        return len(expired)

    async def notify(self, channel: str) -> None:
        self._waiters.wake(channel)

    def listen(self, channel: str) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
        return self._waiters.listen(channel)

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
    # ARGV: expected, "set" | "del", value, TTL in ms (0: none).
    _COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'del' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1
"""

    def __init__(self, url: str, *, prefix: str = "") -> None:
        self.prefix = prefix
        self._url = url
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30
        )
        self._incr = self.client.register_script(self._INCR)
        self._compare_and_set = self.client.register_script(self._COMPARE_AND_SET)
        self._waiters = _LocalWaiters()
        # One pattern subscription per process fans notifications out to local waiters, instead of
        # one Redis connection per listener (an SSE stream each).
        self._reader: asyncio.Task[None] | None = None

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

    async def compare_and_set(
        self, key: str, expected: bytes | str, value: bytes | str | None, *, ttl: float | None = None
    ) -> bool:
        mode, px = ("del", 0) if value is None else ("set", int(ttl * 1000) if ttl else 0)
        args = [expected, mode, value if value is not None else b"", px]
        return bool(await self._compare_and_set(keys=[self._k(key)], args=args))

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

    async def notify(self, channel: str) -> None:
        await self.client.publish(self._k("notify:" + channel), b"1")

    def listen(self, channel: str) -> contextlib.AbstractAsyncContextManager[asyncio.Event]:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_notifications())
        return self._waiters.listen(channel)

    async def _read_notifications(self) -> None:
        prefix = self._k("notify:")
        # Its own client: a subscriber waits on the socket indefinitely, unlike commands (2 s timeout).
        subscriber = aioredis.Redis.from_url(self._url, socket_connect_timeout=2, health_check_interval=30)
        while True:
            try:
                async with subscriber.pubsub() as pubsub:
                    await pubsub.psubscribe(prefix + "*")
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            self._waiters.wake(message["channel"].decode()[len(prefix) :])
            except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                # Listeners fall back to re-reading state on their own timer meanwhile.
                log.warning("cache_notifications_interrupted", error=type(exc).__name__)
                await asyncio.sleep(1)

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.client.aclose()


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def create_cache(redis_url: str | None, *, prefix: str = "") -> Cache:
    return RedisCache(redis_url, prefix=prefix) if redis_url else MemoryCache()
