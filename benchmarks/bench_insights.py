"""The weekly-report job on PostgreSQL: 100,000 active users with 1,000,000 scans in one week.

Loads synthetic users and done scans with COPY (tests/support/synthetic_scans.py), then runs the job the
way an operator or Beat would (``ecoeco stats weekly --week …`` in a process of its own) and reports:

* users per second, next to the baseline of one streaming SQL pass over the same week's scans (what
  reading the data alone costs), as a ratio;
* the job process's peak memory at 10,000 and at 100,000 users (it must stream: ten times the users may
  not need much more memory), next to the peak of the same command doing nothing (``ecoeco stats daily``).

Environment: ``BENCH_INSIGHTS_USERS`` (default 100000) and ``BENCH_INSIGHTS_SCANS_PER_USER`` (10) to
measure at another scale. Uses a dedicated PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import psycopg
from tests.support import services, synthetic_scans

from ecoeco.insights import service
from ecoeco.settings import Settings

BIG_WEEK, SMALL_WEEK = "2026-W45", "2026-W44"
# Runs the CLI, then prints the process's own peak resident memory before exiting with the CLI's code.
PEAK_RSS = (
    "import resource, sys\n"
    "from ecoeco.cli import app\n"
    "code = 0\n"
    "try:\n    app(sys.argv[1:])\n"
    "except SystemExit as exc:\n    code = exc.code\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def run_cli(url: str, *args: str) -> tuple[float, int, str]:
    """(seconds, peak RSS in MiB, output) of ``ecoeco ARGS`` in a fresh process."""
    env = {**os.environ, "ECOECO_DATABASE_URL": url, "ECOECO_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *args], env=env, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    peak = next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("PEAK_RSS_KB"))
    return seconds, peak // 1024, done.stdout


def streaming_pass(url: str, week: str) -> float:
    """Seconds to read every scan of the week once, grouped per user (the data the job must read)."""
    start, end = service.week_bounds(week)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor(name="week") as cur:
        cur.itersize = 10_000
        cur.execute(
            "SELECT user_id, middle, result FROM waste_scans WHERE created_at >= %s AND created_at < %s "
            "ORDER BY user_id",
            (start, end),
        )
        rows = sum(1 for _ in cur)
    seconds = time.perf_counter() - started
    print(f"  baseline: one streaming pass over {rows:,} scans of {week}: {seconds:.1f}s")
    return seconds


def main() -> None:
    users = int(os.environ.get("BENCH_INSIGHTS_USERS", "100000"))
    per_user = int(os.environ.get("BENCH_INSIGHTS_SCANS_PER_USER", "10"))
    small = max(1, users // 10)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    name = f"ecoeco_bench_insights_{uuid.uuid4().hex[:8]}"
    url = services.create_postgres_database(name)
    try:
        services.migrate(Settings(database_url=url, env="test"))
        started = time.perf_counter()
        for week, count, seed in ((BIG_WEEK, users, 1), (SMALL_WEEK, small, 2)):
            start, _ = service.week_bounds(week)
            synthetic_scans.copy_postgres(url, users=count, scans=count * per_user, start=start, seed=seed)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(
            f"loaded {users + small:,} users and {(users + small) * per_user:,} scans with COPY "
            f"in {time.perf_counter() - started:.1f}s"
        )
        idle_s, idle_mb, _ = run_cli(url, "stats", "daily", "--days", "1")
        print(f"  start-up of the command (ecoeco stats daily): {idle_s:.1f}s, subtracted below")
        small_s, small_mb, _ = run_cli(url, "stats", "weekly", "--week", SMALL_WEEK)
        baseline_s = streaming_pass(url, BIG_WEEK)
        big_s, big_mb, out = run_cli(url, "stats", "weekly", "--week", BIG_WEEK)
        assert f"{users} users" in out, out
        big_s, small_s = big_s - idle_s, small_s - idle_s
        rate = users / big_s
        print(
            f"  weekly job, {users:,} users / {users * per_user:,} scans: {big_s:.1f}s = {rate:,.0f} users/s"
        )
        print(f"  job time / streaming pass: {big_s / baseline_s:.1f}x")
        print(f"  weekly job, {small:,} users: {small_s:.1f}s = {small / small_s:,.0f} users/s")
        print(
            f"  peak RSS: idle command {idle_mb} MiB, job at {small:,} users {small_mb} MiB, "
            f"at {users:,} users {big_mb} MiB (x{big_mb / small_mb:.2f} for x10 users; "
            f"x{big_mb / idle_mb:.2f} of the idle command)"
        )
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    finally:
        services.drop_postgres_database(name)
