"""Every accepted scan ends done or failed-with-a-reason, however long nothing worked on it.

The outage: no worker for longer than the job's TTL (``ecoeco up`` killed and restarted minutes later;
every q.ai worker down). The clock fixture moves time past the TTL instead of waiting it out.

* Embedded, the restarted executor finds the expired jobs and calls their dead-letter hook.
* Either backend, a job can vanish without a hook running: RabbitMQ drops an expired message into q.dlq
  without telling anyone (purged here, as no test can speed up the broker's TTL), or embedded the hook
  itself failed. The hourly sweep, started by the scheduler and run by real workers at a time when the
  other clean-ups run too, fails what is left (on SQLite it used to die of "database is locked").
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from ecoeco.core.clock import KST, Clock
from ecoeco.domains import load_tasks
from ecoeco.queue.beat import Scheduler
from ecoeco.queue.models import DeadLetterRow, OutboxRow
from ecoeco.queue.topology import declare_topology, queue_spec
from ecoeco.runtime import Backends
from ecoeco.waste.tasks import STALE_SCAN_AFTER
from tests.support.auth import SignedIn
from tests.support.fixtures_queue import running_workers
from tests.support.waiting import eventually
from tests.waste.conftest import WASTE, png_of_size

pytestmark = pytest.mark.slow
SCANS = 8


async def _accept(client: httpx.AsyncClient, user: SignedIn) -> list[str]:
    """Photo scans and question scans, all accepted (202) while nothing works on them."""
    ids = []
    for i in range(SCANS):
        if i % 2:
            r = await client.post(f"{WASTE}/scans", json={"question": f"페트병 {i}"}, headers=user.headers)
        else:
            photo = png_of_size(100 + i, 100)
            r = await client.post(
                f"{WASTE}/scans", files={"image": ("p.png", photo, "image/png")}, headers=user.headers
            )
        assert r.status_code == 202, r.text
        ids.append(r.json()["scan_id"])
    return ids


async def _outcomes(client: httpx.AsyncClient, user: SignedIn, ids: list[str]) -> dict[str, list[str]]:
    """Scan ids by "<HTTP status> <scan status> <error code>"."""
    by_outcome: dict[str, list[str]] = {}
    for scan_id in ids:
        r = await client.get(f"{WASTE}/scans/{scan_id}", headers=user.headers)
        body = r.json()
        key = f"{r.status_code} {body['status']} {(body.get('error') or {}).get('code')}"
        by_outcome.setdefault(key, []).append(scan_id)
    return by_outcome


@pytest.mark.embedded_only
async def test_jobs_that_expired_while_ecoeco_up_was_down_fail_their_scans(
    client: httpx.AsyncClient, alice: SignedIn, app: FastAPI, clock: Clock
) -> None:
    ids = await _accept(client, alice)  # no executor runs: the process died right after accepting
    ttl = queue_spec("q.ai").ttl_s
    assert ttl is not None
    clock.advance(ttl + 30)  # and was started again five and a half minutes later

    async with running_workers(app):

        async def settled() -> dict[str, list[str]] | None:
            outcomes = await _outcomes(client, alice, ids)
            return None if any(key.startswith("202") for key in outcomes) else outcomes

        outcomes = await eventually(settled, within_s=60, what="every scan finished")
    assert outcomes == {"200 failed analysis-timeout": ids}
    backends: Backends = app.state.backends
    async with backends.db.session() as session:
        expired = await session.scalar(
            select(func.count()).select_from(DeadLetterRow).where(DeadLetterRow.reason == "expired")
        )
    assert expired == SCANS  # each also dead-lettered with its reason, for `ecoeco dlq`


async def test_scans_whose_jobs_vanished_are_failed_by_the_scheduled_sweep(
    client: httpx.AsyncClient, alice: SignedIn, app: FastAPI, clock: Clock
) -> None:
    backends: Backends = app.state.backends
    ids = await _accept(client, alice)
    if backends.queue.distributed:
        assert backends.settings.broker_url
        await asyncio.to_thread(declare_topology, backends.settings.broker_url)
        await backends.queue.flush()  # published from memory after commit and stamped
        await backends.queue.relay(older_than_s=0)  # anything left; the workers' start purges q.ai below
        assert await backends.queue.pending() == 0
    else:
        async with backends.db.session() as session:  # taken and lost without a trace
            await session.execute(update(OutboxRow).values(published_at=clock.now()))

    # Past the sweep's threshold, at 03:00 KST: every hourly and nightly job is due at once.
    clock.advance(STALE_SCAN_AFTER.total_seconds() + 60)
    now = clock.now()
    three = (now + dt.timedelta(days=1)).astimezone(KST).replace(hour=3, minute=0, second=5, microsecond=0)
    clock.advance((three - now).total_seconds())

    async with running_workers(app) as workers:
        enqueued = await Scheduler(backends, load_tasks(backends.settings)).tick(clock.now())
        assert enqueued is not None and {"stale-scans", "image-cleanup", "cache-cleanup"} <= set(enqueued)
        await workers.drain()
    assert await _outcomes(client, alice, ids) == {"200 failed analysis-timeout": ids}
    async with backends.db.session() as session:
        dead = (await session.scalars(select(DeadLetterRow.task))).all()
    assert "sched.waste.stale_scans" not in dead
