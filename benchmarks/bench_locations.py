"""Nearest-first collection-point search on 1,000,000 synthetic points spread over Korea.

Measured in one run, on PostgreSQL (PostGIS) and SQLite (R*Tree):

* DB level: ``repository.nearest`` for "nearest 10 within 100 km", "everything within 2 km", "nearest 10
  however far" (no radius) from where people are and from islands far from everything (p50/p99), and the same
  queries on the same data with the spatial index removed, as the baseline ratio; then each backend's plan of
  the no-radius query (it must walk the index, never scan the table);
* API end to end: ``GET /api/v1/locations?lat&lon`` (no radius: the nearest however far) and the same with
  ``radius_m=5000`` under 32 concurrent clients (wrk, varying query points), one uvicorn worker, next to
  ``/healthz`` of the same server as its baseline.

Goals: DB p99 < 2 ms, API >= 1,500 req/s. Uses a dedicated PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import psycopg
from tests.support import services
from tests.support.places import REMOTE

from ecoeco.db.engine import Database
from ecoeco.db.migrate import upgrade
from ecoeco.locations import repository
from ecoeco.locations.geo import in_korea
from ecoeco.locations.hours import parse_weekly
from ecoeco.locations.repository import NearQuery

POINTS = 1_000_000
QUERIES = 2_000
BASELINE_QUERIES = 8
CONCURRENCY = 32
API_SECONDS = 10
RNG = random.Random(20261126)

# (lat, lon, share of the points, spread in degrees): people and shops cluster in cities.
CITIES = [
    (37.5665, 126.9780, 0.30, 0.12),  # 서울
    (35.1796, 129.0756, 0.09, 0.08),  # 부산
    (37.4563, 126.7052, 0.08, 0.07),  # 인천
    (35.8714, 128.6014, 0.06, 0.06),  # 대구
    (36.3504, 127.3845, 0.04, 0.05),  # 대전
    (35.1595, 126.8526, 0.04, 0.05),  # 광주
    (37.2636, 127.0286, 0.05, 0.06),  # 수원
    (35.5384, 129.3114, 0.03, 0.05),  # 울산
    (36.6424, 127.4890, 0.02, 0.04),  # 청주
    (35.8242, 127.1480, 0.02, 0.04),  # 전주
    (33.4996, 126.5312, 0.02, 0.05),  # 제주
]
UNIFORM_SHARE = 1 - sum(c[2] for c in CITIES)
SCHEDULES = [
    json.dumps(parse_weekly(t).as_json())
    for t in (
        "매일 00:00~24:00",
        "월~금 09:00~18:00, 토·일 휴무",
        "평일 10:00~20:00, 토 10:00~14:00, 일 휴무",
    )
]


def synthetic_point() -> tuple[float, float]:
    while True:
        pick = RNG.random()
        for lat, lon, share, spread in CITIES:
            if pick < share:
                point = (RNG.gauss(lat, spread), RNG.gauss(lon, spread * 1.2))
                break
            pick -= share
        else:
            point = (RNG.uniform(34.3, 38.3), RNG.uniform(126.1, 129.4))
        if in_korea(*point):
            return point


# A row of COLUMNS.
Point = tuple[str, str, str, float, float, str, int, str, str, str, str, str, datetime, datetime]


def rows() -> list[Point]:
    now = datetime.now(UTC)
    out: list[Point] = []
    for i in range(POINTS):
        lat, lon = synthetic_point()
        name = f"수거함 {i}"
        out.append(
            (
                "bench", str(i), name, lat, lon, "drop_box", RNG.randrange(1 << 12),
                RNG.choice(SCHEDULES), "{}", name, name, "", now, now,
            )
        )  # fmt: skip
    return out


COLUMNS = [
    "source", "source_id", "name", "lat", "lon", "kind", "category_mask", "hours", "extra",
    "search_name", "search_text", "search_initials", "created_at", "updated_at",
]  # fmt: skip


def query_points(data: list[Point]) -> list[tuple[float, float]]:
    """Where people ask from: near existing places, a few hundred metres off."""
    picks = RNG.sample(data, QUERIES)
    return [(r[3] + RNG.gauss(0, 0.004), r[4] + RNG.gauss(0, 0.005)) for r in picks]


# --- loading ----------------------------------------------------------------------------------


def load_postgres(url: str, dsn: str, data: list[Point]) -> float:
    asyncio.run(_migrate(url))
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Bulk load without indexes, then build the one the queries use (GiST build beats 1M inserts).
        conn.execute("DROP INDEX ix_locations_geom, ix_locations_search")
        with conn.cursor().copy(f"COPY locations ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        conn.execute("CREATE INDEX ix_locations_geom ON locations USING gist (geom)")
        conn.execute("ANALYZE locations")
    return time.perf_counter() - started


def load_sqlite(path: Path, data: list[Point]) -> float:
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        # The R*Tree grows by one insert per row (its trigger): with its pages cached and neighbours
        # inserted together the load takes a fraction of the time.
        conn.execute("PRAGMA cache_size=-1000000")
        nearby_first = sorted(data, key=lambda r: (round(r[3] * 20), r[4]))
        marks = ", ".join("?" * len(COLUMNS))
        conn.executemany(
            f"INSERT INTO locations ({', '.join(COLUMNS)}) VALUES ({marks})",  # noqa: S608 - constants
            [(*r[:12], r[12].isoformat(), r[13].isoformat()) for r in nearby_first],
        )
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - started


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def without_index_sqlite(path: Path) -> Path:
    """A copy whose R*Tree is a plain view over the table: the same SQL, answered by a full scan."""
    copy = path.with_name("no_index.db")
    shutil.copy(path, copy)
    conn = sqlite3.connect(copy)
    for trigger in ("insert", "update", "delete"):
        conn.execute(f"DROP TRIGGER locations_rtree_{trigger}")
    conn.execute("DROP TABLE locations_rtree")
    conn.execute(
        "CREATE VIEW locations_rtree AS SELECT id, lat AS min_lat, lat AS max_lat, lon AS min_lon, "
        "lon AS max_lon FROM locations"
    )
    conn.commit()
    conn.close()
    return copy


# --- measuring --------------------------------------------------------------------------------

SHAPES: dict[str, tuple[float | None, int]] = {
    "nearest-10": (100_000.0, 10),
    "radius-2km": (2_000.0, 100),
    "any-10": (None, 10),  # no radius: the nearest 10 however far
    "remote-10": (None, 10),  # the same from islands and mountains far from any point
}


async def db_timings(url: str, points: list[tuple[float, float]], shape: str) -> list[float]:
    radius, limit = SHAPES[shape]
    if shape.startswith("remote"):
        points = [REMOTE[i % len(REMOTE)] for i in range(min(len(points), 200))]
    db = Database(url)
    try:
        for lat, lon in points[:20]:  # warm caches and prepared statements
            await db.read(partial(repository.nearest, q=NearQuery(lat, lon, radius, limit)))
        ms = []
        for lat, lon in points:
            started = time.perf_counter()
            await db.read(partial(repository.nearest, q=NearQuery(lat, lon, radius, limit)))
            ms.append((time.perf_counter() - started) * 1000)
        return ms
    finally:
        await db.dispose()


async def plan(url: str, lat: float, lon: float) -> list[str]:
    db = Database(url)
    try:
        return await db.read(lambda c: repository.nearest_plan(c, NearQuery(lat, lon, None, 10)))
    finally:
        await db.dispose()


def pct(ms: list[float], p: int) -> float:
    return statistics.quantiles(ms, n=100, method="inclusive")[p - 1]


@contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = services.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ecoeco.cli import main; main()", "serve", "--service", "locations",
         "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        services.wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(base: str, paths: list[str], seconds: int) -> tuple[float, float, int, int]:
    """(req/s, p99 ms, non-2xx, requests) for GETs cycling through ``paths``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n")
        script.write(
            "i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n"
        )
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{seconds}s", "--latency", "-s", script.name, base],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rps is None or p99 is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    failed = int(errors.group(1)) if errors else 0
    return float(rps.group(1)), float(p99.group(1)) * scale, failed, int(total.group(1))


def api_run(
    env: dict[str, str], points: list[tuple[float, float]]
) -> list[tuple[str, float, float, int, float]]:
    """Per endpoint: (name, req/s, p99 ms, non-2xx, server CPU ms per request).

    The server's own CPU per request is the number that survives the other load of a shared machine.
    """
    paths = [f"/api/v1/locations?lat={lat:.6f}&lon={lon:.6f}&limit=10" for lat, lon in points[:1000]]
    radius = [f"{p}&radius_m=5000" for p in paths]
    results = []
    with server(env) as (base, pid):
        wrk(base, paths, 2)  # warm-up
        for name, urls, seconds in (
            ("GET /locations?lat&lon&limit=10", paths, API_SECONDS),
            ("  … &radius_m=5000", radius, API_SECONDS),
            ("GET /healthz (baseline)", ["/healthz"], API_SECONDS // 2),
        ):
            before = cpu_seconds(pid)
            rps, p99, failed, total = wrk(base, urls, seconds)
            results.append((name, rps, p99, failed, (cpu_seconds(pid) - before) * 1000 / max(total, 1)))
    return results


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (scripts/install-system-packages.sh installs it)")
    started = time.perf_counter()
    data = rows()
    points = query_points(data)
    print(f"generated {POINTS:,} points and {QUERIES:,} query points in {time.perf_counter() - started:.1f}s")

    name = f"ecoeco_bench_locations_{os.getpid()}"
    url = services.create_postgres_database(name)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    tmp = Path(tempfile.mkdtemp(prefix="bench_locations_"))
    sqlite_path = tmp / "ecoeco.db"
    try:
        print(f"loaded PostgreSQL in {load_postgres(url, dsn, data):.1f}s (COPY + sorted GiST build)")
        print(f"loaded SQLite in {load_sqlite(sqlite_path, data):.1f}s (executemany, R*Tree by triggers)")
        del data
        sqlite_url = f"sqlite+aiosqlite:///{sqlite_path}"
        table = []
        for backend, db_url in (("postgresql", url), ("sqlite", sqlite_url)):
            for shape in SHAPES:
                table.append((backend, shape, asyncio.run(db_timings(db_url, points, shape))))
        for backend, db_url in (("postgresql", url), ("sqlite", sqlite_url)):
            print(f"\n{backend} plan of the no-radius query (from {REMOTE[1]}):")
            print("\n".join("  " + line for line in asyncio.run(plan(db_url, *REMOTE[1]))))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP INDEX ix_locations_geom")
        baselines = {
            "postgresql": url,
            "sqlite": f"sqlite+aiosqlite:///{without_index_sqlite(sqlite_path)}",
        }
        print(f"\nDB level, {QUERIES:,} queries each (baseline: same SQL, spatial index removed, "
              f"{BASELINE_QUERIES} queries)")  # fmt: skip
        heads = ("backend", "query", "p50 ms", "p99 ms", "no-index p50", "p99", "speed-up")
        print("{:<11} {:<11} {:>8} {:>8} {:>13} {:>9} {:>9}".format(*heads))
        for backend, shape, ms in table:
            base = asyncio.run(db_timings(baselines[backend], points[:BASELINE_QUERIES], shape))
            print(
                f"{backend:<11} {shape:<11} {pct(ms, 50):8.3f} {pct(ms, 99):8.3f} {pct(base, 50):13.1f} "
                f"{pct(base, 99):9.1f} {pct(base, 50) / pct(ms, 50):8.0f}x"
            )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE INDEX ix_locations_geom ON locations USING gist (geom)")
        print(f"\nAPI end to end: wrk -t2 -c{CONCURRENCY}, {API_SECONDS}s, one uvicorn worker, 1,000 points")
        heads = ("backend", "endpoint", "req/s", "p99 ms", "non-2xx", "CPU ms/req", "vs /healthz")
        print("{:<11} {:<33} {:>8} {:>8} {:>8} {:>11} {:>12}".format(*heads))
        for backend, env in (
            ("postgresql", {"ECOECO_DATABASE_URL": url, "ECOECO_DATA_DIR": str(tmp / "pg")}),
            ("sqlite", {"ECOECO_DATA_DIR": str(tmp)}),
        ):
            results = api_run({"ECOECO_ENV": "dev", **env}, points)
            health_rps = results[-1][1]
            for endpoint, rps, p99, errors, cpu in results:
                row = f"{backend:<11} {endpoint:<33} {rps:8.0f} {p99:8.2f} {errors:8d} {cpu:11.3f}"
                print(f"{row} {rps / health_rps:11.2f}x")
    finally:
        services.drop_postgres_database(name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
