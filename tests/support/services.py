"""Connect to (or provision namespaces on) the real services the distributed backend uses."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import boto3
import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from ecoeco.db.base import Base
from ecoeco.db.engine import Database
from ecoeco.db.migrate import upgrade
from ecoeco.domains import import_all_models
from ecoeco.settings import Settings
from tests.support.waiting import eventually_sync

T = TypeVar("T")

PG_ADMIN_DSN = os.environ.get("ECOECO_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ECOECO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_BASE = os.environ.get("ECOECO_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# xdist gives all workers of one run the same id; a plain run gets its own.
RUN_ID = (os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)[:8]


def require(factory: Callable[..., T], *args: Any) -> T:
    """Run a service set-up; outside CI a missing service skips, in CI it fails."""
    try:
        return factory(*args)
    except Exception as exc:
        message = f"{factory.__name__} failed: {type(exc).__name__}: {exc}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def require_iter(factory: Callable[[], Iterator[T]]) -> Iterator[T]:
    gen = factory()
    value = require(next, gen)
    yield value
    for _ in gen:
        pass


def migrate(settings: Settings) -> None:
    db = Database(settings.database_dsn)

    async def run() -> None:
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())


# --- PostgreSQL -------------------------------------------------------------------------------


def create_postgres_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


def drop_postgres_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sync_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def truncate_postgres(url: str) -> None:
    import_all_models()
    tables = [t.name for t in Base.metadata.sorted_tables]
    if not tables:
        return
    quoted = ", ".join(f'"{t}"' for t in tables)
    with psycopg.connect(_sync_dsn(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


# --- Redis ------------------------------------------------------------------------------------


def check_redis() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    client.ping()
    client.close()
    return REDIS_URL


def flush_redis_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# --- RabbitMQ ---------------------------------------------------------------------------------


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


def create_rabbitmq_vhost(vhost: str) -> str:
    from kombu import Connection

    user = urllib.parse.urlsplit(AMQP_BASE).username or "guest"
    # Fresh vhost per worker: queues, exchanges and messages of one test run never leak into another.
    subprocess.run(
        [shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl", "-q", "delete_vhost", vhost],
        capture_output=True,
        timeout=60,
    )
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    url = f"{AMQP_BASE}/{urllib.parse.quote(vhost, safe='')}"
    with Connection(url, connect_timeout=3) as conn:
        conn.ensure_connection(max_retries=1)
    return url


def delete_rabbitmq_vhost(vhost: str) -> None:
    subprocess.run(
        [shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl", "-q", "delete_vhost", vhost],
        capture_output=True,
        timeout=60,
    )


# --- S3 (moto_server: a real HTTP server speaking the S3 protocol) ----------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    eventually_sync(listening, within_s=timeout, what=f"something listening on port {port}")


def run_moto_server() -> Iterator[str]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def create_bucket(endpoint: str, bucket: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="ap-northeast-2")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
