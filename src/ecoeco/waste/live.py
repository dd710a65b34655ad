"""The state of scans still running, kept in the cache so a poll of one does not touch the database.

Whoever moves a scan to a running stage writes its 202 body here, prefixed with the owner's id: the
request before the commit that creates the scan (so the worker, which only hears of the job after that
commit, always writes after it), the worker after the commit of each later running stage. Reaching
"done" or "failed" drops the entry (``progress.advance``, or the caller of ``pipeline.fail``); from then
on, and whenever it is missing, polls read the database.

Bound on staleness: the entry expires LIVE_TTL_S after its last write, so a scan that ended without its
entry being dropped (the process died between that commit and the delete, the cache was unreachable,
or a duplicate delivery wrote a late running stage) reads as still running for at most that long.
"""

from __future__ import annotations

import uuid

from ecoeco.cache import Cache
from ecoeco.waste.models import Scan
from ecoeco.waste.progress import STAGES, live_key
from ecoeco.waste.schemas import ScanView, image_url

LIVE_TTL_S = 5.0
_USER_ID_BYTES = 16


def running_view(scan: Scan, stage: str) -> ScanView:
    """What GET /scans/{id} answers about ``scan`` while it is at ``stage`` (not done or failed yet)."""
    return ScanView(
        id=scan.id,
        status="queued" if stage == "queued" else "processing",
        stage=stage,
        progress=STAGES[stage],
        question=scan.question,
        created_at=scan.created_at,
        completed_at=None,
        cache_hit=False,
        image_url=image_url(scan.id) if scan.image_key else None,
    )


async def remember(cache: Cache, scan: Scan, stage: str) -> None:
    body = running_view(scan, stage).model_dump_json().encode()
    await cache.set(live_key(scan.id), scan.user_id.bytes + body, ttl=LIVE_TTL_S)


async def forget(cache: Cache, scan_id: uuid.UUID) -> None:
    await cache.delete(live_key(scan_id))


async def running_body(cache: Cache, user_id: uuid.UUID, scan_id: uuid.UUID) -> bytes | None:
    """The JSON 202 body of the user's own running scan, or None (ended, unknown, someone else's)."""
    value = await cache.get(live_key(scan_id))
    if value is None or value[:_USER_ID_BYTES] != user_id.bytes:
        return None
    return value[_USER_ID_BYTES:]
