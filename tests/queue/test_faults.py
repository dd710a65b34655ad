"""Fault tests against real RabbitMQ: a killed worker, a restarted broker, a cluster losing a queue leader.

Workers run as real ``ecoeco worker`` processes. Tests that stop brokers start their own nodes
(tests/queue/rabbit_nodes.py); the machine's shared node is only used through the run's own vhost.
(The fourth fault, a poison message, is tests/queue/test_deadletters.py, on both backends.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from ecoeco.queue import Task, enqueue
from ecoeco.queue.deadletters import Filter, RabbitDeadLetters
from ecoeco.queue.execution import WORKER_LOST_LIMIT
from ecoeco.queue.models import TaskRun
from ecoeco.queue.topology import declare_topology
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from tests.queue import sample_tasks as t
from tests.queue.rabbit_nodes import RabbitNode, check_available, rabbit_nodes
from tests.support import services
from tests.support.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.distributed_only]

REPO = Path(__file__).resolve().parents[2]


class WorkerProcesses:
    """``ecoeco worker`` subprocesses; each is killed (its whole process group) at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, settings: Settings, queue: str, *, concurrency: int = 4, pool: str = "threads"
    ) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECOECO_")}
        env |= {
            "ECOECO_ENV": "test",
            "ECOECO_LOG_JSON": "false",
            "ECOECO_LOG_LEVEL": "WARNING",
            "ECOECO_DATA_DIR": str(settings.data_dir),
            "ECOECO_DATABASE_URL": settings.database_url or "",
            "ECOECO_REDIS_URL": settings.redis_url or "",
            "ECOECO_REDIS_PREFIX": settings.redis_prefix,
            "ECOECO_BROKER_URL": settings.broker_url or "",
            "ECOECO_S3_BUCKET": settings.s3_bucket or "",
            "ECOECO_S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
            "ECOECO_QUEUE_TASK_MODULES": "tests.queue.sample_tasks",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        }
        log = (self.log_dir / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "ecoeco"),
                "worker",
                "--queue",
                queue,
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--metrics-port",
                "0",
            ],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker-*.log"))
        )


@pytest.fixture
def worker_procs(tmp_path: Path) -> Iterator[WorkerProcesses]:
    procs = WorkerProcesses(tmp_path)
    yield procs
    for proc in procs.procs:
        procs.kill(proc)


@pytest.fixture
def own_rabbit() -> None:
    services.require(check_available)


@asynccontextmanager
async def _backends(settings: Settings) -> AsyncIterator[Backends]:
    backends = Backends.from_settings(settings)
    await t.create_effects_table(backends.db)
    assert settings.broker_url
    await asyncio.to_thread(declare_topology, settings.broker_url)
    try:
        yield backends
    finally:
        await backends.aclose()


async def _enqueue_many(
    backends: Backends, task: Task, refs: list[str], per_txn: int = 100, pause_s: float = 0.05
) -> None:
    for i in range(0, len(refs), per_txn):
        async with backends.db.session() as session:
            for ref in refs[i : i + per_txn]:
                await enqueue(session, task, ref=ref, pause_s=pause_s)


async def _relay_until_empty(backends: Backends, within_s: float) -> None:
    async def published() -> bool:
        await backends.queue.relay()
        return await backends.queue.pending() == 0

    await eventually(
        published, within_s=within_s, every_s=0.2, what="every committed task accepted by the broker"
    )


async def _settle(
    backends: Backends, refs: list[str], prefix: str, dlq_url: str, within_s: float
) -> dict[str, int]:
    """Wait until every ref has its effect or sits in q.dlq; return the effect counts."""
    dead: set[str] = set()
    counts: dict[str, int] = {}

    async def settled() -> bool:
        nonlocal counts, dead
        await backends.queue.relay()  # what `ecoeco beat`'s sweep does
        counts = await t.effects_like(backends.db, prefix)
        if len(counts) < len(refs):
            dead = {x.kwargs.get("ref", "") for x in await RabbitDeadLetters(dlq_url).find(Filter(), 10_000)}
        return all(r in counts or r in dead for r in refs)

    await eventually(
        settled, within_s=within_s, every_s=0.2, what=f"all {len(refs)} tasks finished or dead-lettered"
    )
    missing = [r for r in refs if r not in counts and r not in dead]
    assert missing == []
    return counts


async def test_worker_killed_mid_task_redelivers_and_effect_happens_once(
    settings: Settings, worker_procs: WorkerProcesses
) -> None:
    async with _backends(settings) as backends:
        ref = uuid.uuid4().hex
        async with backends.db.session() as session:
            task_id = await enqueue(session, t.hold, ref=ref)
        await _relay_until_empty(backends, 30)

        def runs(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return await backends.cache.get(f"runs:{ref}") == str(n).encode()

            return check

        first = worker_procs.start(settings, "q.batch")
        await eventually(runs(1), within_s=90, every_s=0.2, what="the task started on the first worker")
        worker_procs.kill(first)  # SIGKILL mid-task: its transaction and its unacked message are abandoned

        worker_procs.start(settings, "q.batch")
        await eventually(
            runs(2), within_s=120, every_s=0.2, what=f"redelivery to the second worker\n{worker_procs.logs()}"
        )
        await backends.cache.set(f"release:{ref}", "1")

        async def finished() -> bool:
            async with backends.db.sessionmaker() as session:
                return (
                    await session.scalar(select(TaskRun.outcome).where(TaskRun.task_id == task_id)) == "done"
                )

        await eventually(finished, within_s=60, every_s=0.2, what="the redelivered run finished")
        assert await t.effects(backends.db, ref) == 1


async def test_a_task_that_keeps_killing_its_worker_is_dead_lettered_once(
    settings: Settings, worker_procs: WorkerProcesses
) -> None:
    assert settings.broker_url
    async with _backends(settings) as backends:
        ref = uuid.uuid4().hex
        async with backends.db.session() as session:
            task_id = await enqueue(session, t.crash, ref=ref)
        await _relay_until_empty(backends, 30)
        # Prefork: each crash kills a child; the parent survives, the message is redelivered.
        worker_procs.start(settings, "q.batch", pool="prefork", concurrency=1)
        dlq = RabbitDeadLetters(settings.broker_url)

        async def dead_lettered() -> bool:
            return bool(await dlq.find(Filter(id=task_id)))

        await eventually(
            dead_lettered,
            within_s=120,
            every_s=0.2,
            what=f"the crashing task in q.dlq\n{worker_procs.logs()}",
        )
        [letter] = await dlq.find(Filter(id=task_id))
        assert letter.reason == "worker-lost"
        assert await backends.cache.get(f"crashes:{ref}") == str(WORKER_LOST_LIMIT).encode()
        assert await t.effects(backends.db, f"dead:{ref}:WorkerLostError") == 1  # on_dead_letter ran once


async def test_broker_restart_with_1000_tasks_in_flight_loses_nothing(
    settings: Settings, worker_procs: WorkerProcesses, own_rabbit: None
) -> None:
    with rabbit_nodes(1) as [node]:
        local = settings.model_copy(update={"broker_url": node.url})
        async with _backends(local) as backends:
            prefix = f"restart-{uuid.uuid4().hex[:8]}-"
            before = [f"{prefix}{i}" for i in range(1000)]
            during = [f"{prefix}late-{i}" for i in range(200)]
            await _enqueue_many(backends, t.record, before)
            await _relay_until_empty(backends, 60)  # 1,000 tasks accepted (confirmed) by the broker

            worker_procs.start(local, "q.batch", concurrency=8)

            async def some_done() -> bool:
                return len(await t.effects_like(backends.db, prefix)) >= 50

            await eventually(
                some_done, within_s=90, every_s=0.2, what=f"the worker got going\n{worker_procs.logs()}"
            )
            restart = asyncio.create_task(asyncio.to_thread(node.restart))
            await _enqueue_many(backends, t.record, during, per_txn=20)  # the API keeps accepting work
            await restart
            assert len(await t.effects_like(backends.db, prefix)) < len(before)  # work was left in flight

            counts = await _settle(backends, before + during, prefix, node.url, within_s=180)
            assert max(counts.values()) == 1  # redelivered duplicates did not apply twice


async def test_cluster_loses_the_q_ai_leader_under_load_without_loss(
    settings: Settings, worker_procs: WorkerProcesses, own_rabbit: None
) -> None:
    with rabbit_nodes(3) as nodes:
        await asyncio.to_thread(declare_topology, nodes[0].url)
        by_name: dict[str, RabbitNode] = {n.name: n for n in nodes}
        leader = by_name[nodes[0].quorum_leader("q.ai")]
        others = [n for n in nodes if n is not leader]
        # The worker talks to the leader first (so it must fail over); the publisher to a follower.
        worker_settings = settings.model_copy(
            update={"broker_url": ";".join(n.url for n in [leader, *others])}
        )
        publisher = settings.model_copy(update={"broker_url": ";".join(n.url for n in [*others, leader])})
        async with _backends(publisher) as backends:
            prefix = f"cluster-{uuid.uuid4().hex[:8]}-"
            before = [f"{prefix}{i}" for i in range(800)]
            during = [f"{prefix}late-{i}" for i in range(100)]
            await _enqueue_many(backends, t.record_ai, before)
            await _relay_until_empty(backends, 60)
            worker_procs.start(worker_settings, "q.ai", concurrency=8)

            async def some_done() -> bool:
                return len(await t.effects_like(backends.db, prefix)) >= 50

            await eventually(
                some_done, within_s=90, every_s=0.2, what=f"the worker got going\n{worker_procs.logs()}"
            )
            stop = asyncio.create_task(asyncio.to_thread(leader.stop))
            await _enqueue_many(backends, t.record_ai, during, per_txn=20)  # load goes on meanwhile
            await stop
            assert len(await t.effects_like(backends.db, prefix)) < len(before)  # still in flight

            counts = await _settle(backends, before + during, prefix, others[0].url, within_s=180)
            assert max(counts.values()) == 1
            assert others[0].quorum_leader("q.ai") != leader.name
