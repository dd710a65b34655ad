"""The PostgreSQL and Redis metric names deploy/ relies on (monitoring/metrics.yaml) exist, with their types,
in what the exporters serve: each exporter runs here against this machine's PostgreSQL and Redis (read-only
statistics) and is scraped once.

The exporters are Debian's (postgres_exporter 0.11.1 — the version the StatefulSet runs —, redis_exporter
1.45); the Redis sidecar runs 1.67, whose names for these metrics are the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import httpx
import pytest
import yaml

from tests.deploy.conftest import DEPLOY
from tests.support import services
from tests.support.services import free_port, wait_for_port

LISTED = yaml.safe_load((DEPLOY / "monitoring/metrics.yaml").read_text())


def exporter(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: Debian package, see scripts/install-system-packages.sh")
    return found


def scrape(cmd: list[str], env: dict[str, str], port: int) -> dict[str, str]:
    """Run the exporter, scrape /metrics once, return each metric family's type."""
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port)
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.MULTILINE))


@pytest.fixture(scope="module")
def postgres_metrics() -> dict[str, str]:
    exe = services.require(exporter, "prometheus-postgres-exporter")
    port = free_port()
    dsn = services.PG_ADMIN_DSN + ("&" if "?" in services.PG_ADMIN_DSN else "?") + "sslmode=disable"
    return scrape([exe, f"--web.listen-address=127.0.0.1:{port}"], {"DATA_SOURCE_NAME": dsn}, port)


@pytest.fixture(scope="module")
def redis_metrics() -> dict[str, str]:
    exe = services.require(exporter, "prometheus-redis-exporter")
    port = free_port()
    cmd = [exe, f"-redis.addr={services.REDIS_URL}", f"-web.listen-address=127.0.0.1:{port}"]
    return scrape(cmd, {}, port)


def families(listed: dict[str, dict[str, str]]) -> dict[str, str]:
    # The exposition names a counter's family without "_total" (OpenMetrics) or with it (older clients).
    return {name: spec["type"] for name, spec in listed.items()}


def family_type(served: dict[str, str], name: str) -> str | None:
    return served.get(name) or served.get(name.removesuffix("_total"))


def test_postgres_exporter_serves_every_listed_metric(postgres_metrics: dict[str, str]) -> None:
    for name, kind in families(LISTED["postgresql"]).items():
        assert family_type(postgres_metrics, name) == kind, name


def test_redis_exporter_serves_every_listed_metric(redis_metrics: dict[str, str]) -> None:
    for name, kind in families(LISTED["redis"]).items():
        assert family_type(redis_metrics, name) == kind, name
