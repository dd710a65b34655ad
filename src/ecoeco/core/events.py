"""In-process domain events.

Modules announce facts (``user.deleted``) without knowing who cares; subscribers run inside the
publisher's database transaction so that, e.g., erasing an account and everything hanging off it
commits or rolls back as one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]

# The facts domains announce to each other, each with its payload.
USER_CREATED = "user.created"  # {"user_id"}: auth opened an account for a first sign-in
USER_DELETED = "user.deleted"  # {"user_id"}: the account is being erased, with everything hanging off it
SCAN_DONE = "scan.done"  # {"scan_id"}: a scan ended with an answer (worker or confirmed-photo cache)
# {"scan_id", "correct", "was_confirmed"}: the owner judged the answer; was_confirmed: "correct" said before
SCAN_JUDGED = "scan.judged"

_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if handler not in _subscribers[event]:
            _subscribers[event].append(handler)
        return handler

    return register


async def publish(session: AsyncSession, event: str, payload: dict[str, Any]) -> None:
    for handler in _subscribers.get(event, ()):
        await handler(session, payload)
