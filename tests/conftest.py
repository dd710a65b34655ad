"""Test harness: every domain test runs against both backends.

* ``embedded``: SQLite file, in-process cache, local-disk storage, in-process queue.
* ``distributed``: the real PostgreSQL, Redis and RabbitMQ of this machine and an S3-compatible
  HTTP server (moto_server), each namespaced per xdist worker (database, key prefix, vhost, bucket).

State is reset per test: the SQLite file is copied from a migrated template; PostgreSQL tables are
truncated; Redis keys under the test's prefix are deleted. Under ``CI=true`` an unreachable service is
a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ecoeco.app import create_app
from ecoeco.core.clock import Clock
from ecoeco.core.clock import clock as process_clock
from ecoeco.settings import Settings
from tests.support import services

# Fixture modules (fake IdPs, fake OpenAI, queue workers) are loaded by name: tests/support/fixtures_*.py.
pytest_plugins = [
    "tests.support.hermetic",  # first: it watches everything the other plugins and the tests open
    *sorted(f"tests.support.{p.stem}" for p in (Path(__file__).parent / "support").glob("fixtures_*.py")),
]

BACKENDS = ("embedded", "distributed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "embedded_only: runs on the embedded backend alone")
    config.addinivalue_line("markers", "distributed_only: runs on the distributed backend alone")
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still runs in CI)")
    config.addinivalue_line(
        "markers", "settings(**fields): settings a test needs, fixed before any app is built from them"
    )


@pytest.fixture(scope="session")
def worker_id_str() -> str:
    """Unique per xdist worker *and* per run, so concurrent test runs never share a namespace."""
    return services.RUN_ID + "_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (much faster than migrating each time)."""
    data_dir = tmp_path_factory.mktemp("template")
    services.migrate(Settings(data_dir=data_dir, env="test"))
    return data_dir / "ecoeco.db"


@pytest.fixture(scope="session")
def postgres_url(worker_id_str: str) -> Iterator[str]:
    url = services.require(services.create_postgres_database, f"ecoeco_test_{worker_id_str}")
    services.migrate(Settings(database_url=url, env="test"))
    yield url
    services.drop_postgres_database(f"ecoeco_test_{worker_id_str}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return services.require(services.check_redis)


@pytest.fixture(scope="session")
def broker_url(worker_id_str: str) -> Iterator[str]:
    vhost = f"ecoeco_test_{worker_id_str}"
    url = services.require(services.create_rabbitmq_vhost, vhost)
    yield url
    services.delete_rabbitmq_vhost(vhost)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    yield from services.require_iter(services.run_moto_server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under CI nothing may skip: a skipped test there is a missing service or a hidden gap."""
    report = yield
    if services.IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"
    return report


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that needs a backend once per backend, minus those it opts out of."""
    if "backend" not in metafunc.fixturenames:
        return
    marks = {m.name for m in metafunc.definition.iter_markers()}
    wanted = [
        b
        for b in BACKENDS
        if not (b == "distributed" and "embedded_only" in marks)
        and not (b == "embedded" and "distributed_only" in marks)
    ]
    metafunc.parametrize("backend", wanted)


@pytest.fixture
def settings(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, worker_id_str: str
) -> Iterator[Settings]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    overrides: dict[str, Any] = {}
    for mark in reversed(list(request.node.iter_markers("settings"))):  # the closest mark wins
        overrides |= mark.kwargs
    if backend == "embedded":
        shutil.copy(request.getfixturevalue("embedded_template"), data_dir / "ecoeco.db")
        yield Settings(data_dir=data_dir, env="test", log_json=False, **overrides)
        return

    pg = request.getfixturevalue("postgres_url")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"ecoeco-{worker_id_str}-{uuid.uuid4().hex[:8]}".lower().replace("_", "-")
    services.create_bucket(endpoint, bucket)
    prefix = f"test:{uuid.uuid4().hex}:"
    redis = request.getfixturevalue("redis_url")
    yield Settings(
        data_dir=data_dir,
        env="test",
        log_json=False,
        database_url=pg,
        redis_url=redis,
        redis_prefix=prefix,
        broker_url=request.getfixturevalue("broker_url"),
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        **overrides,
    )
    services.truncate_postgres(pg)
    services.flush_redis_prefix(redis, prefix)


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The process clock, to move time forward past a TTL instead of sleeping through it."""
    yield process_clock
    process_clock.reset()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
