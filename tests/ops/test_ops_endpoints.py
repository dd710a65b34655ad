from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from ecoeco.app import create_app
from ecoeco.settings import Settings


async def test_healthz_is_alive(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client: httpx.AsyncClient, backend: str) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert set(checks) == {"database", "cache", "broker", "storage"}
    expected = {
        "embedded": {"database": "sqlite", "cache": "memory", "broker": "in-process", "storage": "local"},
        "distributed": {"database": "postgresql", "cache": "redis", "broker": "rabbitmq", "storage": "s3"},
    }[backend]
    assert {name: c["backend"] for name, c in checks.items()} == expected
    assert all(c["ok"] for c in checks.values())


@pytest.mark.distributed_only
async def test_readyz_names_the_dead_broker_while_healthz_stays_up(settings: Settings) -> None:
    # A port nothing listens on stands in for a stopped broker.
    dead = settings.model_copy(update={"broker_url": "amqp://guest:guest@127.0.0.1:1/"})
    application = create_app(dead)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            ready = await c.get("/readyz")
            live = await c.get("/healthz")
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    body = ready.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"]["ok"] is True
    assert "guest:guest" not in ready.text


@pytest.mark.distributed_only
async def test_readyz_names_the_dead_database(settings: Settings) -> None:
    dead = settings.model_copy(update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"})
    application = create_app(dead)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            ready = await c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["database"]


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path/123")
    text = (await client.get("/metrics")).text
    assert 'ecoeco_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    # Unknown paths collapse into one label instead of one series per path.
    assert "/no/such/path/123" not in text
    assert 'route="unmatched",status="404"' in text
    assert "ecoeco_http_requests_in_flight" in text
    assert "ecoeco_http_request_duration_seconds_bucket" in text


async def test_request_id_is_propagated_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\t"})
    assert generated.headers["x-request-id"] != "bad id with spaces\t"
    assert len(generated.headers["x-request-id"]) == 32


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "ecoeco"
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.distributed_only
async def test_an_optional_dependency_only_degrades_readiness(settings: Settings) -> None:
    # The sync APIs run with ECOECO_READY_OPTIONAL=broker: a broker outage must not take them out of
    # the load balancer (their tasks wait in the outbox), but a database outage still does.
    dead = settings.model_copy(
        update={"broker_url": "amqp://guest:guest@127.0.0.1:1/", "ready_optional": ["broker"]}
    )
    application = create_app(dead)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            ready = await c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["degraded"] == ["broker"]


def test_ready_optional_reads_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOECO_READY_OPTIONAL", "broker, storage")
    assert Settings(_env_file=None).ready_optional == ["broker", "storage"]
