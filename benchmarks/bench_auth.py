"""Authenticated ``GET /api/v1/users/me`` throughput vs a bare FastAPI hello-world.

Both apps are served the way ``ecoeco serve`` serves (``ecoeco.serving.run``: one uvicorn process on
127.0.0.1, uvloop + httptools with the bounded request heads, uvicorn's access log off) and are loaded by
the same tool (``hey``, fixed concurrency, fixed duration) in this run; we print the ratio. ecoeco's own
access log (one JSON line per request, to stderr) is part of what it costs; the hello-world has none.
The ecoeco app is measured on the embedded backends and, when PostgreSQL and Redis answer on localhost,
on the distributed ones. Goal: ratio >= 0.5. Next to it, the server's CPU per request and the
hello-world's divided by it ("CPU ratio"), which the other load of a shared machine moves much less.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from tests.support import services
from tests.support.auth import sign_in

from benchmarks.bench_locations import cpu_seconds
from ecoeco import serving
from ecoeco.app import create_app
from ecoeco.db.engine import Database
from ecoeco.db.migrate import upgrade
from ecoeco.settings import Settings
from ecoeco.startup import load_settings

DURATION_S = 6
WARMUP_S = 2
CONCURRENCY = 32


def hello_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    return app


def ecoeco_app() -> FastAPI:
    # As `ecoeco serve` builds it: settings from the ECOECO_* variables, logging configured (JSON lines).
    return create_app(load_settings())


APPS = {"hello_app": hello_app, "ecoeco_app": ecoeco_app}


def run_server(factory: str, port: int) -> None:
    """One app served exactly as ``ecoeco serve`` serves (same uvicorn options for both apps)."""
    settings = load_settings()
    serving.run(APPS[factory](), settings, host="127.0.0.1", port=port)


@contextmanager
def serve(factory: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """(base URL, server pid)."""
    port = services.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_auth", factory, str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        services.wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def hey(url: str, *, seconds: int, headers: dict[str, str] | None = None) -> tuple[float, dict[str, int]]:
    args = ["hey", "-z", f"{seconds}s", "-c", str(CONCURRENCY)]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    codes = {m[0]: int(m[1]) for m in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    if rps is None:
        raise RuntimeError(f"unexpected hey output:\n{out}")
    return float(rps.group(1)), codes


def measure(url: str, pid: int, headers: dict[str, str] | None = None) -> tuple[float, float]:
    """(req/s, server CPU ms per request): the CPU figure survives the other load of a shared machine
    better than req/s, since hey and the server share its two cores."""
    hey(url, seconds=WARMUP_S, headers=headers)
    before = cpu_seconds(pid)
    rps, codes = hey(url, seconds=DURATION_S, headers=headers)
    cpu_ms = (cpu_seconds(pid) - before) * 1000 / max(1, sum(codes.values()))
    if set(codes) != {"200"}:
        raise RuntimeError(f"{url}: non-200 answers {codes}")
    return rps, cpu_ms


def report(name: str, got: tuple[float, float], baseline: tuple[float, float]) -> None:
    (rps, cpu), (base_rps, base_cpu) = got, baseline
    print(
        f"  {name:<26}{rps:7.0f} req/s  ratio {rps / base_rps:.2f}   "
        f"CPU {cpu:.3f} ms/req  CPU ratio {base_cpu / cpu:.2f}"
    )


async def _signed_in_headers(base_url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        return (await sign_in(client, name="bench")).headers


def migrate(env: dict[str, str]) -> None:
    settings = Settings(**{k.removeprefix("ECOECO_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_dsn)

    async def run() -> None:
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())


def measure_ecoeco(env: dict[str, str]) -> list[tuple[float, float]]:
    """The app's /healthz, /api/v1/auth/jwks (routed, no auth) and GET /api/v1/users/me."""
    migrate(env)
    with serve("ecoeco_app", env) as (base, pid):
        headers = asyncio.run(_signed_in_headers(base))
        return [
            measure(f"{base}/healthz", pid),
            measure(f"{base}/api/v1/auth/jwks", pid),
            measure(f"{base}/api/v1/users/me", pid, headers),
        ]


def distributed_env(data_dir: Path) -> tuple[dict[str, str], str] | None:
    name = f"ecoeco_bench_{uuid.uuid4().hex[:8]}"
    try:
        url = services.create_postgres_database(name)
        services.check_redis()
    except Exception as exc:  # no local services: report the embedded figure only
        print(f"  distributed backends unavailable ({type(exc).__name__}); skipped")
        return None
    return {
        "ECOECO_DATA_DIR": str(data_dir),
        "ECOECO_DATABASE_URL": url,
        "ECOECO_REDIS_URL": services.REDIS_URL,
        "ECOECO_REDIS_PREFIX": f"bench:{uuid.uuid4().hex}:",
    }, name


def main() -> None:
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed (scripts/install-system-packages.sh installs it)")
    common = {"ECOECO_ENV": "test", "ECOECO_LOG_JSON": "true"}
    with tempfile.TemporaryDirectory(prefix="ecoeco-bench-") as tmp:
        with serve("hello_app", common) as (base, pid):
            baseline = measure(f"{base}/hello", pid)
        print(
            f"  hello-world FastAPI       {baseline[0]:7.0f} req/s  CPU {baseline[1]:.3f} ms/req"
            f"  (1 uvicorn worker, hey -c {CONCURRENCY})"
        )

        floor, routed, embedded = measure_ecoeco({**common, "ECOECO_DATA_DIR": str(Path(tmp) / "embedded")})
        # References inside the same app: /healthz costs its middleware, logging and metrics alone;
        # /api/v1/auth/jwks adds the versioned API's routing but no authentication.
        report("ecoeco GET /healthz", floor, baseline)
        report("ecoeco GET /auth/jwks", routed, baseline)
        report("GET /users/me embedded", embedded, baseline)

        found = distributed_env(Path(tmp) / "distributed")
        if found is not None:
            env, db_name = found
            try:
                distributed = measure_ecoeco({**common, **env})[-1]
            finally:
                services.flush_redis_prefix(services.REDIS_URL, env["ECOECO_REDIS_PREFIX"])
                services.drop_postgres_database(db_name)
            report("GET /users/me distributed", distributed, baseline)


if __name__ == "__main__":
    run_server(sys.argv[1], int(sys.argv[2]))
