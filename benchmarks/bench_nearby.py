"""``GET /api/v1/locations?lat&lon&limit=10`` on the bundled collection points vs a bare FastAPI hello-world.

What a phone of ``ecoeco up`` asks most, on the data it ships with: one uvicorn worker each, the same load
(wrk, 32 connections, 1,000 query points spread over Korea), in this run; we print the ratio and the
server's CPU per request, split by thread (the event loop and SQLite's reader threads). With PostgreSQL
on localhost the same runs against it. Goals: embedded ratio >= 0.3; PostgreSQL >= 1,500 req/s, p99 < 30 ms.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from tests.support import services

from benchmarks.bench_auth import serve
from benchmarks.bench_locations import cpu_seconds, server, wrk

SECONDS = 8
RNG = random.Random(20261205)


def thread_cpu(pid: int) -> dict[str, float]:
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        out[task.name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def nearby(env: dict[str, str], paths: list[str], baseline: float, name: str) -> None:
    subprocess.run(
        [sys.executable, "-c", "from ecoeco.cli import main; main()", "migrate", "--bundled-data"],
        env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    with server(env) as (base, pid):
        wrk(base, paths, 2)  # warm-up
        threads, before = thread_cpu(pid), cpu_seconds(pid)
        rps, p99, failed, total = wrk(base, paths, SECONDS)
        cpu = (cpu_seconds(pid) - before) * 1000 / max(total, 1)
        after = thread_cpu(pid)
    split = sorted(((after[t] - threads.get(t, 0)) * 1000 / max(total, 1) for t in after), reverse=True)
    busy = " + ".join(f"{ms:.2f}" for ms in split if ms >= 0.01)
    print(
        f"  {name:<22}{rps:7.0f} req/s  ratio {rps / baseline:.3f}  p99 {p99:6.1f} ms  non-2xx {failed}"
        f"  CPU {cpu:.3f} ms/req (by thread: {busy})"
    )


def main() -> None:
    points = [(RNG.uniform(34.8, 37.9), RNG.uniform(126.5, 129.3)) for _ in range(1000)]
    paths = [f"/api/v1/locations?lat={lat:.6f}&lon={lon:.6f}&limit=10" for lat, lon in points]
    with serve("hello_app", {}) as (base, _):
        wrk(base, ["/hello"], 2)
        baseline = wrk(base, ["/hello"], SECONDS)[0]
    print(f"  hello-world FastAPI   {baseline:7.0f} req/s  (1 uvicorn worker, uvloop + httptools, wrk -c32)")
    common = {"ECOECO_ENV": "dev", "ECOECO_LOG_JSON": "true"}
    with tempfile.TemporaryDirectory(prefix="ecoeco-bench-") as tmp:
        nearby(
            {**common, "ECOECO_DATA_DIR": str(Path(tmp) / "embedded")}, paths, baseline, "nearest-10 SQLite"
        )
        name = f"ecoeco_bench_nearby_{uuid.uuid4().hex[:8]}"
        try:
            url = services.create_postgres_database(name)
        except Exception as exc:  # no local PostgreSQL: the embedded figure only
            print(f"  PostgreSQL unavailable ({type(exc).__name__}); skipped")
            return
        try:
            env = {**common, "ECOECO_DATA_DIR": str(Path(tmp) / "pg"), "ECOECO_DATABASE_URL": url}
            nearby(env, paths, baseline, "nearest-10 PostgreSQL")
        finally:
            services.drop_postgres_database(name)
