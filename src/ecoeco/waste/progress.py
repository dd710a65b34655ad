"""Scan progress: stages, their order, and the event log behind GET /scans/{id} and SSE.

Each stage change is a compare-and-set on the scan row plus one appended event, in one transaction, so
a redelivered job that repeats a stage neither moves progress backwards nor duplicates events. After
commit, a notification through the cache (Redis pub/sub when distributed) wakes the SSE streams. Reaching
"done" publishes the ``scan.done`` domain event in the same transaction (rewards enqueue their job on it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.cache import Cache
from ecoeco.core import events
from ecoeco.runtime import Backends
from ecoeco.waste import repository

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
# Appended after "done" by whoever decides what the scan earned (ecoeco.rewards): the stream's last word.
REWARD_EVENT = "reward"
_RANK = {stage: i for i, stage in enumerate(STAGES)}


def channel(scan_id: uuid.UUID) -> str:
    return f"waste:scan:{scan_id}"


def live_key(scan_id: uuid.UUID) -> str:
    """The cache entry that answers polls of the scan while it runs (see waste.live)."""
    return f"waste:scan:{scan_id}:live"


@dataclass(frozen=True)
class Step:
    stage: str
    data: dict[str, Any] = field(default_factory=dict)  # extra fields of the event
    values: dict[str, Any] = field(default_factory=dict)  # scan columns to set with the stage


async def advance(backends: Backends, scan_id: uuid.UUID, *steps: Step) -> bool:
    """:func:`record` ``steps`` in a transaction of their own, then wake the streams at once (an ended
    scan's poll entry dropped first, so whoever is woken reads the end)."""
    async with backends.db.session() as session:
        moved = await record(session, scan_id, *steps)
    if moved:
        if any(step.stage in TERMINAL for step in steps):
            await backends.cache.delete(live_key(scan_id))
        await notify(backends.cache, scan_id)
    return moved


async def record(session: AsyncSession, scan_id: uuid.UUID, *steps: Step) -> bool:
    """Move the scan forward through ``steps`` in the caller's transaction; False if it was already beyond.

    The one way a stage is recorded, by the request (intake, a cache hit) and by the worker alike. Streams
    see it once the transaction commits, on their next look (or at once after :func:`advance`).
    """
    moved = False
    for step in steps:
        seq = await repository.advance_stage(
            session,
            scan_id,
            stage=step.stage,
            status=step.stage if step.stage in TERMINAL else "processing",
            progress=STAGES[step.stage],
            from_stages=[s for s in STAGES if _RANK[s] < _RANK[step.stage] and s not in TERMINAL],
            values=step.values,
        )
        if seq is None:
            continue
        payload = {"stage": step.stage, "progress": STAGES[step.stage], **step.data}
        repository.add_event(session, scan_id, seq, event_type(step.stage), payload)
        moved = True
        if step.stage == "done":
            await events.publish(session, events.SCAN_DONE, {"scan_id": str(scan_id)})
    return moved


async def notify(cache: Cache, scan_id: uuid.UUID) -> None:
    await cache.notify(channel(scan_id))


def event_type(stage: str) -> str:
    return stage if stage in TERMINAL else "progress"
