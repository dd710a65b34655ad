"""asyncio helpers that stay correct under cancellation on Python 3.11."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` passes; return whether it is set.

    Not ``asyncio.wait_for``: on 3.11, a cancellation arriving in the same loop iteration as the event
    is swallowed (wait_for returns the event's result instead), so a loop being stopped goes on polling
    and whoever awaits its end waits for ever. ``asyncio.timeout`` counts cancellations and re-raises.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
    return event.is_set()
