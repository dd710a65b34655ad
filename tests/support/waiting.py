"""Wait for a condition, never for a guessed time: poll it until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], *, within_s: float = 30.0, every_s: float = 0.05, what: str
) -> T:
    """Await ``check()`` until it returns something truthy and return it; TimeoutError after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        if result := await check():
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within_s}s: {what}")
        await asyncio.sleep(every_s)


def eventually_sync(
    check: Callable[[], T | None], *, within_s: float = 30.0, every_s: float = 0.05, what: str
) -> T:
    """``eventually`` for code outside an event loop (servers started by session fixtures)."""
    deadline = time.monotonic() + within_s
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within_s}s: {what}")
        time.sleep(every_s)
