"""The process' clock, and Korea's time zone: the one place business code reads the time from.

Expiry rules (sign-in state, refresh tokens, upload URLs, in-process cache entries) ask ``clock``
instead of ``datetime.now``/``time.monotonic``, so a test moves time forward with ``clock.advance``
instead of sleeping through a TTL. Latency measurements keep using ``time.perf_counter``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# Every "day" the product talks about (streaks, daily stats, opening hours, schedules) is a Korean day.
KST = ZoneInfo("Asia/Seoul")


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> datetime:
        """Aware UTC wall time."""
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move both clocks forward (tests)."""
        self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0


clock = Clock()


def utcnow() -> datetime:
    return clock.now()
