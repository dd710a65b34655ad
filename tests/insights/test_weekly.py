"""Weekly reports: the batch job (idempotent, resumable after its process is killed) and reading them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ecoeco.core.clock import utcnow
from ecoeco.insights import service
from ecoeco.insights.models import JobCheckpoint, WeeklyReport
from ecoeco.queue.beat import SCHEDULES
from ecoeco.rewards.models import OwnedCharacter
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from ecoeco.waste.models import Scan
from tests.support import synthetic_scans
from tests.support.auth import sign_in
from tests.support.fixtures_queue import Workers
from tests.support.waiting import eventually
from tests.web.stack import base_env, ecoeco_exe

WEEK = "2026-W45"  # Monday 2026-11-02 .. Sunday 2026-11-08, Korean time


def test_week_arithmetic_and_the_monday_schedule() -> None:
    start, end = service.week_bounds(WEEK)
    assert start == dt.datetime(2026, 11, 1, 15, tzinfo=dt.UTC)  # Monday 00:00 KST
    assert end - start == dt.timedelta(days=7)
    monday_9am = dt.datetime(2026, 11, 9, 0, tzinfo=dt.UTC)  # 09:00 KST
    assert service.week_before(monday_9am) == WEEK
    weekly = next(s for s in SCHEDULES if s.task == "batch.insights.weekly")
    assert weekly.last_slot(dt.datetime(2026, 11, 12, 3, tzinfo=dt.UTC)) == monday_9am
    assert weekly.last_slot(monday_9am - dt.timedelta(seconds=1)) == monday_9am - dt.timedelta(days=7)


async def test_reports_are_written_once_per_user_and_week(app: FastAPI) -> None:
    backends: Backends = app.state.backends
    start, _ = service.week_bounds(WEEK)
    data = await synthetic_scans.load(backends.db, users=25, scans=80, start=start)
    async with backends.db.session() as session:
        scan_id = await session.scalar(select(Scan.id).where(Scan.user_id == data.users[0]).limit(1))
        for character, scan, at in (("petty", scan_id, start + dt.timedelta(hours=5)), ("eco", None, start)):
            session.add(
                OwnedCharacter(user_id=data.users[0], character_id=character, scan_id=scan, earned_at=at)
            )
    first = await service.write_weekly_reports(backends.db, WEEK, batch_size=4)
    again = await service.write_weekly_reports(backends.db, WEEK, batch_size=4)
    assert first.processed == again.processed == 25
    async with backends.db.session() as session:
        reports = list((await session.execute(select(WeeklyReport))).scalars())
    assert sorted(r.user_id for r in reports) == sorted(data.users)
    by_user = {r.user_id: r.data for r in reports}
    assert sum(r["scans"] for r in by_user.values()) == 80
    assert all(sum(c["count"] for c in r["by_category"]) == r["scans"] for r in by_user.values())
    # Characters a scan earned that week; the mascot of sign-up is not "earned".
    assert by_user[data.users[0]]["characters"] == ["petty"]
    assert by_user[data.users[1]]["characters"] == []


async def test_my_weekly_report_is_mine_alone(
    app: FastAPI, client: httpx.AsyncClient, workers: Workers
) -> None:
    alice, bob = await sign_in(client, name="alice"), await sign_in(client, name="bob")
    for question in ("생수병", "우유팩", "생수병"):
        r = await client.post("/api/v1/waste/scans", json={"question": question}, headers=alice.headers)
        assert r.status_code == 202, r.text
    await workers.drain()
    backends: Backends = app.state.backends
    week = service.week_of(utcnow())
    assert (await service.write_weekly_reports(backends.db, week, batch_size=100)).processed == 1

    r = await client.get("/api/v1/users/me/reports/weekly", params={"week": week}, headers=alice.headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["week"] == week and report["scans"] == 3
    assert report["by_category"] == [
        {"category": "clear_pet", "count": 2},
        {"category": "paper_pack", "count": 1},
    ]
    assert report["streak_days"] == 1

    r = await client.get("/api/v1/users/me/reports/weekly", params={"week": week}, headers=bob.headers)
    assert r.status_code == 404 and r.json()["code"] == "report-not-found"
    assert r.headers["content-type"] == "application/problem+json"
    for bad in ("2026-49", "2026-W54", "W49"):
        r = await client.get("/api/v1/users/me/reports/weekly", params={"week": bad}, headers=alice.headers)
        assert r.status_code == 422, (bad, r.text)
    r = await client.get(
        "/api/v1/users/me/reports/weekly", params={"week": "2025-W53"}, headers=alice.headers
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid-week"  # 2025 has 52 ISO weeks
    assert (await client.get("/api/v1/users/me/reports/weekly")).status_code == 401

    assert (await client.delete("/api/v1/users/me", headers=alice.headers)).status_code == 204
    async with backends.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(WeeklyReport)) == 0


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for an ``ecoeco`` command on the test's database."""
    env = {"ECOECO_DATA_DIR": str(settings.data_dir), **extra}
    if settings.database_url:
        env["ECOECO_DATABASE_URL"] = settings.database_url
    return base_env(env)


@pytest.mark.slow
async def test_a_run_killed_midway_resumes_and_writes_every_report_exactly_once(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    backends: Backends = app.state.backends
    start, _ = service.week_bounds(WEEK)
    users = 3000
    await synthetic_scans.load(backends.db, users=users, scans=2 * users, start=start)
    command = [ecoeco_exe(), "stats", "weekly", "--week", WEEK]
    env = cli_env(settings, ECOECO_INSIGHTS_BATCH_SIZE="10")

    async def processed() -> tuple[int, bool]:
        async with backends.db.session() as session:
            cp = await session.get(JobCheckpoint, (service.WEEKLY_JOB, WEEK))
        return (cp.processed, cp.finished_at is not None) if cp else (0, False)

    async def some_batches_done() -> bool:
        return (await processed())[0] >= 200

    with (tmp_path / "first.log").open("wb") as log:
        first = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        await eventually(some_batches_done, within_s=120, every_s=0.02, what="a few batches done")
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # mid-run: no chance to clean up
        await first.wait()
    done, finished = await processed()
    assert not finished and done < users, "the run ended before it could be killed"

    second = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with asyncio.timeout(300):
        output, _ = await second.communicate()
    assert second.returncode == 0, output.decode()[-3000:]
    assert await processed() == (users, True)  # resumed after the checkpoint: no batch counted twice
    async with backends.db.session() as session:
        rows = await session.execute(
            select(WeeklyReport.user_id, func.count()).group_by(WeeklyReport.user_id)
        )
        counts = [n for _, n in rows.all()]
    assert len(counts) == users and set(counts) == {1}
