"""Outage runs with real processes (`ecoeco serve`, `ecoeco worker --queue q.ai`, `ecoeco beat`) and a
RabbitMQ node or PostgreSQL cluster of the test's own, stopped and started again (never the shared ones).

* Broker stopped for 60 s while scans are posted: the sync APIs keep answering, scans are still accepted
  (their jobs wait in the outbox), and every accepted scan completes once the broker is back.
* PostgreSQL stopped: every request that needs it gets 503 with Retry-After (never a 500), and the scans
  accepted before the outage all complete once it is back (their jobs wait in the broker and are retried).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.queue.rabbit_nodes import RabbitNode, check_available
from tests.support import services
from tests.support.auth import SignedIn, sign_in
from tests.support.pgcluster import Cluster, Runner
from tests.support.waiting import eventually, eventually_sync
from tests.web.stack import base_env, ecoeco_exe

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("outages")]
BROKER_OUTAGE_S = 60.0
SCANS = "/api/v1/waste/scans"


class Processes:
    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.port = services.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.running: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str) -> None:
        log = self.log_dir / "setup.log"
        with log.open("ab") as out:
            done = subprocess.run([ecoeco_exe(), *args], env=self.env, stdout=out, stderr=out, timeout=300)
        assert done.returncode == 0, log.read_text()[-3000:]

    def start(self) -> None:
        for name, args in (
            ("serve", ["serve", "--host", "127.0.0.1", "--port", str(self.port)]),
            ("worker", ["worker", "--queue", "q.ai", "--metrics-port", "0"]),
            ("beat", ["beat", "--metrics-port", "0"]),
        ):
            with (self.log_dir / f"{name}.log").open("ab") as out:
                self.running.append(
                    subprocess.Popen([ecoeco_exe(), *args], env=self.env, stdout=out, stderr=out)
                )

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(healthy, within_s=90, every_s=0.3, what="ecoeco serve up")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.log_dir.glob("*.log")))

    def stop(self) -> None:
        for proc in self.running:
            proc.terminate()
        for proc in self.running:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def stack(tmp: Path, *, database_url: str, broker_url: str, s3: str) -> Iterator[Processes]:
    bucket = f"ecoeco-outage-{uuid.uuid4().hex[:8]}"
    services.create_bucket(s3, bucket)
    prefix = f"test:outage:{uuid.uuid4().hex}:"
    env = base_env(
        {
            "ECOECO_ENV": "test",
            "ECOECO_DATA_DIR": str(tmp),
            "ECOECO_DATABASE_URL": database_url,
            "ECOECO_REDIS_URL": services.check_redis(),
            "ECOECO_REDIS_PREFIX": prefix,
            "ECOECO_BROKER_URL": broker_url,
            "ECOECO_S3_BUCKET": bucket,
            "ECOECO_S3_ENDPOINT_URL": s3,
            "ECOECO_READY_OPTIONAL": "broker",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        }
    )
    processes = Processes(tmp, env)
    processes.run("migrate")
    processes.start()
    try:
        yield processes
    finally:
        processes.stop()
        services.flush_redis_prefix(services.check_redis(), prefix)


async def _all_done(
    client: httpx.AsyncClient, user: SignedIn, ids: list[str], within_s: float
) -> dict[str, int]:
    async def finished() -> dict[str, int] | None:
        statuses: dict[str, int] = {}
        for scan_id in ids:
            r = await client.get(f"{SCANS}/{scan_id}", headers=user.headers)
            assert r.status_code in (200, 202), r.text
            status = r.json()["status"]
            statuses[status] = statuses.get(status, 0) + 1
        return statuses if set(statuses) <= {"done", "failed"} else None

    return await eventually(finished, within_s=within_s, every_s=0.5, what="every accepted scan finished")


@pytest.fixture
def own_rabbit(tmp_path: Path) -> Iterator[RabbitNode]:
    services.require(check_available)
    node = RabbitNode(uuid.uuid4().hex[:6])
    try:
        node.start()
        node.wait_running()
        yield node
    finally:
        node.destroy()


async def test_a_broker_outage_delays_scans_and_stops_nothing_else(
    tmp_path: Path, own_rabbit: RabbitNode, s3_endpoint: str, postgres_url: str
) -> None:
    database = f"ecoeco_outage_{uuid.uuid4().hex[:8]}"
    url = services.create_postgres_database(database)
    try:
        with stack(tmp_path, database_url=url, broker_url=own_rabbit.url, s3=s3_endpoint) as procs:
            async with httpx.AsyncClient(base_url=procs.url, timeout=30) as client:
                user = await sign_in(client)
                before = await client.post(SCANS, json={"question": "페트병"}, headers=user.headers)
                assert before.status_code == 202
                await _all_done(client, user, [before.json()["scan_id"]], within_s=60)

                await asyncio.to_thread(own_rabbit.stop)
                accepted, answers = [], []
                loop = asyncio.get_running_loop()
                ends = loop.time() + BROKER_OUTAGE_S  # the outage itself lasts this long
                while loop.time() < ends:
                    r = await client.post(SCANS, json={"question": "우유팩"}, headers=user.headers)
                    answers.append(r.status_code)
                    if r.status_code == 202:
                        accepted.append(r.json()["scan_id"])
                    for path in (
                        "/api/v1/recycling/items?q=캔",
                        "/api/v1/users/me",
                        "/api/v1/users/me/scans",
                    ):
                        answers.append((await client.get(path, headers=user.headers)).status_code)
                    await asyncio.sleep(2)
                ready = await client.get("/readyz")
                await asyncio.to_thread(own_rabbit.start)
                await asyncio.to_thread(own_rabbit.wait_running)
                outcome = await _all_done(client, user, accepted, within_s=180)
    finally:
        services.drop_postgres_database(database)
    assert set(answers) == {200, 202}, answers  # the sync APIs kept answering, scans were accepted
    assert ready.status_code == 200 and ready.json()["degraded"] == ["broker"]
    assert len(accepted) >= 20
    assert outcome == {"done": len(accepted)}, procs.logs()


async def test_a_database_outage_is_a_503_and_loses_nothing_accepted(
    tmp_path: Path, s3_endpoint: str, broker_url: str
) -> None:
    with Runner.in_tempdir("ecoeco-outage-pg-") as runner:
        cluster = Cluster(runner, [])
        cluster.initdb()
        cluster.start({})
        try:
            with stack(
                tmp_path,
                database_url=cluster.dsn(driver="postgresql+asyncpg"),
                broker_url=broker_url,
                s3=s3_endpoint,
            ) as procs:
                async with httpx.AsyncClient(base_url=procs.url, timeout=30) as client:
                    user = await sign_in(client)
                    accepted = []
                    for i in range(10):
                        r = await client.post(SCANS, json={"question": f"페트병 {i}"}, headers=user.headers)
                        assert r.status_code == 202
                        accepted.append(r.json()["scan_id"])
                    await asyncio.to_thread(cluster.stop)
                    during = []
                    for path in ("/api/v1/users/me/scans", f"{SCANS}/{accepted[0]}", "/api/v1/locations/1"):
                        during.append(await client.get(path, headers=user.headers))
                    during.append(await client.post(SCANS, json={"question": "캔"}, headers=user.headers))
                    during.append(await client.get("/readyz"))
                    await asyncio.to_thread(cluster.start, {})
                    outcome = await _all_done(client, user, accepted, within_s=180)
        finally:
            if cluster.running():
                cluster.stop()
    statuses = [r.status_code for r in during]
    # The poll of a scan still running may be answered from Redis (waste.live, for 5 s after its last
    # stage), database or not; everything else needs the database.
    assert statuses[1] in (202, 503), during[1].text
    assert statuses[:1] + statuses[2:] == [503] * (len(during) - 1), [r.text for r in during]
    assert all(r.headers.get("retry-after") for r in during)
    refused = [r for r in during if r.status_code == 503]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert outcome == {"done": len(accepted)}, procs.logs()
