"""Schema fuzzing in the suite: schemathesis against the live app, on both backends, signed in and not.

Each run is the `st` command against a real server process (`ecoeco up`; `ecoeco serve` + a q.ai worker on
PostgreSQL, Redis, RabbitMQ and S3), every check it has but one, a bounded number of examples per operation
(about 1,100 requests a run, under two minutes for all four runs here). Zero failures is the assertion:
no 5xx, every status, content type, header and body as the OpenAPI document says, invalid input refused,
authentication not ignored. The one check left out, ``positive_data_acceptance``, expects every
schema-valid request to succeed; what a schema cannot say (a cursor must be one we issued, lat/lon or a
bbox, a printable nickname, an idempotency key used once) is refused with a precise 4xx instead.
The signed-in runs leave out the two operations that end the session they run with (logout, account
deletion); the anonymous runs cover them.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import services
from tests.support.auth import sign_in
from tests.support.processes import start_server, stop_server
from tests.web.stack import start_distributed

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("schemathesis")]
CONFIG = Path(__file__).parent / "support" / "schemathesis.toml"
EXAMPLES = 12


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    unthrottled = {"ECOECO_AUTH_RATE_LIMIT": "1000000"}
    if request.param == "embedded":
        server = start_server(tmp, "up", ["up"], unthrottled)
        try:
            yield server.url
        finally:
            stop_server(server)
        return
    s3 = request.getfixturevalue("s3_endpoint")
    # Each xdist worker that runs a distributed case builds its own stack: the worker's name keeps their
    # databases apart (the temporary directory's name is the same on every worker).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"fuzz_{services.RUN_ID}_{worker}_{tmp.name[-6:]}".lower().replace("-", "_")
    stack = start_distributed(tmp, services.free_port(), name, s3, [], extra_env=unthrottled)
    try:
        yield stack.url
    finally:
        stack.close()


def _schemathesis(url: str, workdir: Path, *extra: str) -> tuple[int, str]:
    st = str(Path(sys.executable).with_name("st"))
    command = [
        st,
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--continue-on-failure",
        "--generation-with-security-parameters",
        "false",
        "--seed",
        "13",
        "--no-color",
        *extra,
    ]
    # In a directory of its own: schemathesis keeps an example cache in its working directory.
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=workdir)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_the_live_api_conforms_to_its_openapi_document(live: str, signed_in: bool, tmp_path: Path) -> None:
    extra: list[str] = []
    if signed_in:
        token = asyncio.run(_token(live))
        extra = [
            "--header",
            f"Authorization: Bearer {token}",
            "--exclude-name",
            "DELETE /api/v1/users/me",
            "--exclude-name",
            "POST /api/v1/auth/logout",
        ]
    code, report = _schemathesis(live, tmp_path, *extra)
    counts = re.search(r"(\d+) generated, (.*)", report)
    print(counts.group(0) if counts else report[-2000:])  # the figures of the run, in the test's output
    assert code == 0, report[-12000:]
    assert counts is not None and int(counts.group(1)) > 500, report[-3000:]
    assert "Server error" not in report


async def _token(url: str) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await sign_in(client)).access_token
