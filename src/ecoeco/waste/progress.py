"""Scan progress: stages, their order, and the event log behind GET /scans/{id} and SSE.

Each stage change is a compare-and-set on the scan row plus one appended event, in one transaction, so
a redelivered job that repeats a stage neither moves progress backwards nor duplicates events. After
commit, a notification through the cache (Redis pub/sub when distributed) wakes the SSE streams.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.cache import Cache
from ecoeco.db.base import utcnow
from ecoeco.runtime import Backends
from ecoeco.waste import repository
from ecoeco.waste.models import Scan

# stage → progress percent; the order of this dict is the order of the pipeline.
STAGES: dict[str, int] = {
    "queued": 0,
    "preprocessed": 15,
    "cache_check": 25,
    "classifying": 40,
    "rules": 75,
    "answering": 90,
    "done": 100,
    "failed": 100,
}
TERMINAL = frozenset({"done", "failed"})
_RANK = {stage: i for i, stage in enumerate(STAGES)}


def channel(scan_id: uuid.UUID) -> str:
    return f"waste:scan:{scan_id}"


async def advance(
    backends: Backends,
    scan_id: uuid.UUID,
    stage: str,
    *,
    data: dict[str, Any] | None = None,
    session: AsyncSession | None = None,
    **values: Any,
) -> bool:
    """Move the scan forward to ``stage`` (and set ``values``); False if it is already there or beyond.

    With ``session`` the change joins that transaction (and streams see it once it commits);
    otherwise it commits on its own and wakes the streams at once.
    """
    if session is not None:
        return await _advance(session, scan_id, stage, data, values) is not None
    async with backends.db.session() as own:
        seq = await _advance(own, scan_id, stage, data, values)
    if seq is None:
        return False
    await notify(backends.cache, scan_id)
    return True


async def _advance(
    session: AsyncSession, scan_id: uuid.UUID, stage: str, data: dict[str, Any] | None, values: dict[str, Any]
) -> int | None:
    status = stage if stage in TERMINAL else "processing"
    earlier = [s for s in STAGES if _RANK[s] < _RANK[stage] and s not in TERMINAL]
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Scan)
        .where(Scan.id == scan_id, Scan.stage.in_(earlier))
        .values(stage=stage, status=status, progress=STAGES[stage], updated_at=utcnow(), **values)
    )
    if result.rowcount != 1:
        return None
    payload = {"stage": stage, "progress": STAGES[stage], **(data or {})}
    return await repository.append_event(session, scan_id, _event_type(stage), payload)


async def notify(cache: Cache, scan_id: uuid.UUID) -> None:
    await cache.notify(channel(scan_id))


def _event_type(stage: str) -> str:
    return stage if stage in TERMINAL else "progress"
