"""The distributed adapter of the cache port: Redis (redis-py's asyncio client)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

import redis.asyncio as aioredis
import structlog

from ecoeco.cache.base import Cache, LocalWaiters

log = structlog.get_logger(__name__)


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
        self._waiters = LocalWaiters()
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
