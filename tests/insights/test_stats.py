"""Operator statistics and community totals."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from fastapi import FastAPI

from ecoeco.core.clock import utcnow
from ecoeco.insights import service
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from tests.insights.test_weekly import cli_env
from tests.support.auth import sign_in
from tests.support.fixtures_queue import Workers
from tests.web.stack import ecoeco_exe


async def ask(client: httpx.AsyncClient, headers: dict[str, str], question: str) -> None:
    r = await client.post("/api/v1/waste/scans", json={"question": question}, headers=headers)
    assert r.status_code == 202, r.text


@pytest.mark.settings(insights_min_group=2)
async def test_community_totals_leave_out_groups_too_small_to_hide_anyone(
    client: httpx.AsyncClient, workers: Workers
) -> None:
    alice, bob = await sign_in(client, name="alice"), await sign_in(client, name="bob")
    for headers, question in ((alice.headers, "생수병"), (bob.headers, "생수병"), (alice.headers, "우유팩")):
        await ask(client, headers, question)
    await ask(client, alice.headers, "우유팩")  # one person twice is still one person
    await workers.drain()
    r = await client.get("/api/v1/stats/community", params={"region": "kr"})  # no sign-in needed
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["min_group"] == 2
    assert body["categories"] == [{"category": "clear_pet", "scans": 2, "people": 2}]
    r = await client.get("/api/v1/stats/community", params={"region": "seoul"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


async def test_misses_group_what_the_knowledge_base_could_not_answer(
    app: FastAPI, client: httpx.AsyncClient, workers: Workers
) -> None:
    alice = await sign_in(client, name="alice")
    for question in ("우주선 부품", "  우주선   부품 ", "생수병"):
        await ask(client, alice.headers, question)
    await workers.drain()
    backends: Backends = app.state.backends
    async with backends.db.session() as session:
        found = await service.misses(session, utcnow() - dt.timedelta(days=7))
    assert [(m.what, m.why, m.count) for m in found] == [("우주선 부품", "unsure", 2)]


@pytest.mark.embedded_only  # the command's own logic; both backends' queries are tested above
async def test_the_stats_commands(client: httpx.AsyncClient, workers: Workers, settings: Settings) -> None:
    alice = await sign_in(client, name="alice")
    await ask(client, alice.headers, "우주선 부품")
    await workers.drain()
    env = cli_env(settings)

    async def run(*args: str) -> tuple[int | None, str]:
        proc = await asyncio.create_subprocess_exec(
            ecoeco_exe(),
            "stats",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(120):
            out, _ = await proc.communicate()
        return proc.returncode, out.decode()

    code, out = await run("misses", "--since", "7d")
    assert code == 0 and "우주선 부품" in out and "unsure" in out, out
    code, out = await run("daily", "--days", "30")
    assert code == 0 and "day" in out, out
    code, out = await run("misses", "--since", "a week")
    assert code == 2 and "expected a number of hours or days" in out, out
