"""Topology drift, publishing with a broker down or a queue full, redelivery after a lost worker, metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection
from prometheus_client import REGISTRY
from sqlalchemy import update
from typer.testing import CliRunner

from ecoeco.cli import app as cli_app
from ecoeco.core.clock import utcnow
from ecoeco.domains import load_tasks
from ecoeco.queue import enqueue
from ecoeco.queue.deadletters import Filter, dead_letters
from ecoeco.queue.execution import WORKER_LOST_LIMIT
from ecoeco.queue.metrics import QueueCollector
from ecoeco.queue.models import OutboxRow
from ecoeco.queue.topology import declare_topology, queue_depths
from ecoeco.runtime import Backends
from ecoeco.settings import Settings, get_settings
from tests.queue import sample_tasks as t
from tests.support import services
from tests.support.fixtures_queue import Workers


@pytest.fixture
def scratch_vhost() -> Iterator[str]:
    name = f"ecoeco_test_{services.RUN_ID}_{uuid.uuid4().hex[:8]}"
    yield services.require(services.create_rabbitmq_vhost, name)
    services.delete_rabbitmq_vhost(name)


def run_cli(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str, stdin: str = ""
) -> tuple[int, str]:
    monkeypatch.setenv("ECOECO_DATA_DIR", str(settings.data_dir))
    for name in ("database_url", "redis_url", "broker_url", "redis_prefix", "s3_bucket", "s3_endpoint_url"):
        value = getattr(settings, name)
        if value:
            monkeypatch.setenv(f"ECOECO_{name.upper()}", value)
        else:
            monkeypatch.delenv(f"ECOECO_{name.upper()}", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, list(args), input=stdin)
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


@pytest.mark.distributed_only
def test_declare_reports_drift_instead_of_crashing(
    settings: Settings, scratch_vhost: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Connection(scratch_vhost) as conn:
        channel: Any = conn.default_channel
        channel.queue_declare(
            "q.ai",
            durable=True,
            auto_delete=False,
            arguments={"x-queue-type": "quorum", "x-message-ttl": 60_000},
        )
    results = {r.name: r for r in declare_topology(scratch_vhost)}
    assert results["q.ai"].status == "drift"
    assert "inequivalent arg" in results["q.ai"].detail
    assert all(r.status == "ok" for name, r in results.items() if name != "q.ai")
    assert {d.name for d in queue_depths(scratch_vhost)} == {"q.ai", "q.api", "q.batch", "q.sched", "q.dlq"}

    code, output = run_cli(
        monkeypatch, settings.model_copy(update={"broker_url": scratch_vhost}), "mq", "declare"
    )
    assert code == 1
    assert "drift" in output and "q.ai" in output


@pytest.mark.distributed_only
async def test_enqueue_succeeds_with_the_broker_down_and_the_relay_publishes_later(
    backends: Backends, workers: Workers
) -> None:
    dead_broker = backends.settings.model_copy(
        update={"broker_url": f"amqp://guest:guest@127.0.0.1:{services.free_port()}//"}
    )
    api = Backends.from_settings(dead_broker)
    ref = uuid.uuid4().hex
    try:
        async with api.db.session() as session:  # the request's transaction commits regardless
            await enqueue(session, t.record, ref=ref)
        await api.queue.flush()  # its publish attempt has failed
        assert await api.queue.pending() == 1
    finally:
        await api.aclose()
    await workers.drain(within_s=60)  # a healthy relay publishes it; the worker runs it
    assert await t.effects(backends.db, ref) == 1


@pytest.mark.distributed_only
async def test_full_queue_rejects_the_publish_and_the_row_waits(
    settings: Settings, scratch_vhost: str
) -> None:
    local = settings.model_copy(update={"broker_url": scratch_vhost})
    await asyncio.to_thread(declare_topology, scratch_vhost)
    backends = Backends.from_settings(local)
    job = load_tasks(local)["sched.images.cleanup"]
    try:
        async with backends.db.session() as session:
            for i in range(505):  # q.sched holds 500 (reject-publish)
                await enqueue(session, job, slot=f"2026-01-01T00:00:{i:03d}")
        await backends.queue.flush()  # the publishes that followed the commit
        while await backends.queue.relay():
            pass
        [depth] = queue_depths(scratch_vhost, ("q.sched",))
        # A quorum queue checks the limit before appending, so it may end one message over it.
        assert 500 <= depth.ready <= 501
        assert await backends.queue.pending() == 505 - depth.ready  # nacked by the broker, kept for later
    finally:
        await backends.aclose()


@pytest.mark.embedded_only
async def test_embedded_redelivers_after_a_lost_worker_and_gives_up_after_the_limit(
    backends: Backends, workers: Workers
) -> None:
    lost, poison = uuid.uuid4().hex, uuid.uuid4().hex
    async with backends.db.session() as session:
        lost_id = await enqueue(session, t.record, ref=lost)
        poison_id = await enqueue(session, t.broken, ref=poison)
        # As if a process had claimed them and died: leases expired, deliveries counted.
        expired = utcnow() - dt.timedelta(seconds=1)
        await session.execute(
            update(OutboxRow).where(OutboxRow.id == lost_id).values(lease_until=expired, deliveries=1)
        )
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == poison_id)
            .values(lease_until=expired, deliveries=WORKER_LOST_LIMIT)
        )
    await workers.drain()
    assert await t.effects(backends.db, lost) == 1
    [letter] = await dead_letters(backends).find(Filter(id=poison_id))
    assert letter.reason == "worker-lost"
    assert await t.effects(backends.db, f"dead:{poison}:WorkerLostError") == 1


async def test_task_metrics_count_outcomes(backends: Backends, workers: Workers) -> None:
    def sample(outcome: str) -> float:
        labels = {"task": "batch.testing.flaky", "outcome": outcome}
        return REGISTRY.get_sample_value("ecoeco_tasks_total", labels) or 0.0

    before = sample("done"), sample("retry")
    async with backends.db.session() as session:
        await enqueue(session, t.flaky, ref=uuid.uuid4().hex, failures=1)
    await workers.drain()
    assert (sample("done") - before[0], sample("retry") - before[1]) == (1.0, 1.0)


@pytest.mark.distributed_only
async def test_queue_depths_are_exported(backends: Backends, workers: Workers) -> None:
    store = dead_letters(backends)
    await store.purge(Filter())
    async with backends.db.session() as session:
        await enqueue(session, t.reject, ref=uuid.uuid4().hex)
    await workers.drain()
    assert backends.settings.broker_url
    families = {f.name: f for f in QueueCollector(backends.settings.broker_url, "q.batch").collect()}
    ready = {s.labels["queue"]: s.value for s in families["ecoeco_queue_messages_ready"].samples}
    assert ready["q.dlq"] == 1
    assert ready["q.batch"] == 0
    assert [s.value for s in families["ecoeco_queue_unacked"].samples] == [0]


async def test_dlq_cli_lists_shows_and_purges_after_confirmation(
    backends: Backends, workers: Workers, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = dead_letters(backends)
    await store.purge(Filter())
    ref = uuid.uuid4().hex
    async with backends.db.session() as session:
        task_id = await enqueue(session, t.reject, ref=ref)
    await workers.drain()

    def cli(*args: str, stdin: str = "") -> tuple[int, str]:
        return run_cli(monkeypatch, settings, *args, stdin=stdin)

    code, output = await asyncio.to_thread(cli, "dlq", "list", "--json", "--task", "batch.testing.*")
    assert code == 0
    assert [(x["id"], x["reason"]) for x in json.loads(output)] == [(task_id, "permanent")]
    code, output = await asyncio.to_thread(cli, "dlq", "show", task_id)
    assert code == 0 and json.loads(output)["kwargs"] == {"ref": ref}
    code, output = await asyncio.to_thread(cli, "dlq", "purge", "--older-than", "1x")
    assert code == 2 and "not an age" in output
    code, _ = await asyncio.to_thread(cli, "dlq", "purge", stdin="n\n")
    assert code == 1
    assert await store.count() == 1  # declined: nothing deleted
    code, output = await asyncio.to_thread(cli, "dlq", "purge", "--yes")
    assert (code, await store.count()) == (0, 0)
    assert "purged 1" in output
