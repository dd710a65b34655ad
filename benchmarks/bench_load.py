"""Sustained mixed load on the distributed setup: what rate of the journey mix does ecoeco carry with every
request succeeding and p95 under 500 ms, and what goes wrong first above it?

`ecoeco serve` (all services, one process), `ecoeco worker --queue q.ai` (the local model) and `ecoeco beat`
on this machine's PostgreSQL, Redis and RabbitMQ (a database, prefix and vhost of their own) and moto's S3.
Locust runs the journey mix of benchmarks/load_locustfile.py in a process of its own, headless, at rising
numbers of people (each takes one journey step per second), STEP_S seconds per level; the highest level
that passed is then run again for RATED_S (60 s); levels above it run until the first request fails, to name
the first error. The baseline is the same load on /healthz, in the same run.

Env: ECOECO_BENCH_LOAD_LEVELS (comma list of people, default 4,8,16,24,32,48), ECOECO_BENCH_LOAD_STEP_S (20).
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.support import services
from tests.support.waiting import eventually_sync

HERE = Path(__file__).parent
P95_LIMIT_MS = 500.0
RATED_S = 60
STEP_S = int(os.environ.get("ECOECO_BENCH_LOAD_STEP_S", "20"))
LEVELS = [int(x) for x in os.environ.get("ECOECO_BENCH_LOAD_LEVELS", "4,8,16,24,32,48").split(",")]


@dataclass
class Level:
    users: int
    seconds: int
    requests: int
    failures: int
    rps: float
    p95_ms: float
    first_error: str

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.failures == 0 and self.p95_ms < P95_LIMIT_MS

    def line(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"{self.users:>4} people  {self.rps:7.1f} req/s  p95 {self.p95_ms:6.0f} ms  "
            f"{self.failures}/{self.requests} failed  {verdict}  {self.first_error}"
        )


def _exe(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def locust(url: str, users: int, seconds: int, out: Path, user_class: str = "Person") -> Level:
    prefix = out / f"{user_class}-{users}-{seconds}"
    subprocess.run(
        [
            _exe("locust"),
            "-f",
            str(HERE / "load_locustfile.py"),
            user_class,
            "--headless",
            "--host",
            url,
            "-u",
            str(users),
            "-r",
            str(max(1, users)),
            "-t",
            f"{seconds}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "10",
        ],
        capture_output=True,
        timeout=seconds + 120,
        check=False,
    )
    with open(f"{prefix}_stats.csv", newline="") as fh:
        total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    first_error = ""
    with open(f"{prefix}_failures.csv", newline="") as fh:
        failures = sorted(csv.DictReader(fh), key=lambda r: -int(r["Occurrences"]))
        if failures:
            f = failures[0]
            first_error = f"first error: {f['Method']} {f['Name']}: {f['Error'][:120]} (x{f['Occurrences']})"
    return Level(
        users=users,
        seconds=seconds,
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        rps=float(total["Requests/s"]),
        p95_ms=float(total["95%"] or 0),
        first_error=first_error,
    )


@contextlib.contextmanager
def distributed_stack(workdir: Path) -> Iterator[str]:
    name = f"ecoeco_load_{uuid.uuid4().hex[:8]}"
    database = services.create_postgres_database(name)
    broker = services.create_rabbitmq_vhost(name)
    redis = services.check_redis()
    prefix = f"bench:load:{uuid.uuid4().hex}:"
    moto = services.run_moto_server()
    s3 = next(moto)
    bucket = name.replace("_", "-")
    services.create_bucket(s3, bucket)
    port = services.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOECO_")} | {
        "ECOECO_ENV": "test",
        "ECOECO_LOG_LEVEL": "WARNING",
        "ECOECO_DATA_DIR": str(workdir),
        "ECOECO_DATABASE_URL": database,
        "ECOECO_REDIS_URL": redis,
        "ECOECO_REDIS_PREFIX": prefix,
        "ECOECO_BROKER_URL": broker,
        "ECOECO_S3_BUCKET": bucket,
        "ECOECO_S3_ENDPOINT_URL": s3,
        "ECOECO_AUTH_RATE_LIMIT": "1000000",  # every simulated person signs in from 127.0.0.1
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(
            [_exe("ecoeco"), "migrate", "--bundled-data"], env=env, check=True, capture_output=True
        )
        for args in (
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            ["worker", "--queue", "q.ai", "--metrics-port", "0"],
            ["worker", "--queue", "q.batch", "--metrics-port", "0"],
            ["beat", "--metrics-port", "0"],
        ):
            log = (workdir / f"{args[0]}-{len(procs)}.log").open("wb")
            procs.append(subprocess.Popen([_exe("ecoeco"), *args], env=env, stdout=log, stderr=log))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually_sync(ready, within_s=90, every_s=0.5, what="ecoeco serve ready")
        yield url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        services.drop_postgres_database(name)
        services.delete_rabbitmq_vhost(name)
        services.flush_redis_prefix(redis, prefix)
        for _ in moto:
            pass


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ecoeco-load-") as tmp, distributed_stack(Path(tmp)) as url:
        out = Path(tmp)
        print(f"journey mix, {STEP_S}s per level, pass = 100% success and p95 < {P95_LIMIT_MS:.0f} ms")
        passed: Level | None = None  # the highest level with every level up to it passing
        climbing = True
        for users in LEVELS:
            level = locust(url, users, STEP_S, out)
            print("  " + level.line(), flush=True)
            climbing = climbing and level.ok
            if climbing:
                passed = level
            if level.failures:  # the first error above the rated level: nothing higher is needed
                break
        if passed is None:
            print("no level passed")
            return
        rated = locust(url, passed.users, RATED_S, out)
        print(f"rated ({RATED_S}s at {passed.users} people): {rated.line()}")
        hello = locust(url, passed.users, STEP_S, out, user_class="Hello")
        print(f"baseline /healthz at the same pacing: {hello.line()}")
        print(
            f"rated mix: {rated.rps:.1f} req/s, p95 {rated.p95_ms:.0f} ms = "
            f"{rated.p95_ms / max(hello.p95_ms, 1):.1f}x the baseline's p95"
        )


if __name__ == "__main__":
    main()
