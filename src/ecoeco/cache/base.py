"""The cache port and its two adapters.

The operations are the small set our features need (single-use state, rate-limit counters,
deny-lists, result caching, change notifications); both adapters implement them atomically. The Redis one
lives in ``ecoeco.cache.redis_cache``, imported only when Redis is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator

from ecoeco.core.clock import clock


class LocalWaiters:
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
        self._waiters = LocalWaiters()

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


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
