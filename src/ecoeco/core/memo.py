"""A per-process memo of answers read from a shared cache, each remembered for a short, fixed time.

For reads made on every request (is this session revoked? the caller's profile): a hit costs no round
trip, at the price of lagging the shared cache by at most ``ttl_s`` seconds, a bound each user of it writes
down. There is one memo per owner (an app's cache), so two apps in one process never share answers;
bounded in size, a flood of distinct keys evicts the oldest first.
"""

from __future__ import annotations

import weakref
from typing import Generic, TypeVar

from ecoeco.core.clock import clock

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    def __init__(self, ttl_s: float, size: int) -> None:
        self.ttl_s = ttl_s
        self.size = size
        # key -> (value, monotonic time until which it holds); insertion order is time order.
        self._entries: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if clock.monotonic() < hit[1]:
            return hit[0]
        del self._entries[key]
        return None

    def put(self, key: K, value: V) -> None:
        # Re-inserted at the end, so the first entry is always the oldest.
        self._entries.pop(key, None)
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (value, clock.monotonic() + self.ttl_s)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)


class Memos(Generic[K, V]):
    """One :class:`Memo` per owner, made on first use and dropped with its owner."""

    def __init__(self, ttl_s: float, size: int) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._memos: weakref.WeakKeyDictionary[object, Memo[K, V]] = weakref.WeakKeyDictionary()

    def of(self, owner: object) -> Memo[K, V]:
        memo = self._memos.get(owner)
        if memo is None:
            memo = self._memos[owner] = Memo(self.ttl_s, self.size)
        return memo
