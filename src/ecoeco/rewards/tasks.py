"""Queue work of the rewards domain: deciding what a finished scan earned, on q.api.

The ``scan.done`` subscriber lives here, next to the task it enqueues, because this module is imported
wherever a scan can finish: by the API (through ``service``) and by every worker (``load_tasks``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events
from ecoeco.queue import TaskContext, enqueue, task
from ecoeco.rewards import granting
from ecoeco.runtime import Backends
from ecoeco.waste.service import outcome


@task("api.rewards.grant", max_retries=5)
async def grant(ctx: TaskContext[Backends], *, scan_id: str) -> None:
    """Enqueued by the ``scan.done`` event (key ``reward:<scan id>``); a repeat decides nothing new."""
    scan = uuid.UUID(scan_id)
    if await granting.grant_for_scan(ctx.session, ctx.backends.settings, scan) is not None:
        # Streams wake now and read the outcome once this transaction commits (or on their next look).
        await outcome.wake_streams(ctx.backends, scan)


@events.subscribe(events.SCAN_DONE)
async def _scan_done(session: AsyncSession, payload: dict[str, Any]) -> None:
    # In the transaction that records "done": the job exists exactly when the answer does.
    await enqueue(session, grant, scan_id=payload["scan_id"], key=f"reward:{payload['scan_id']}")
