from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from pydantic import BaseModel

from ecoeco.app import create_app
from ecoeco.core.errors import NotFound
from ecoeco.settings import Settings


class Body(BaseModel):
    name: str


def _app_with_routes(settings: Settings):
    app = create_app(settings)
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @router.get("/missing")
    async def missing() -> None:
        raise NotFound("No such thing.", code="thing-not-found")

    @router.post("/echo")
    async def echo(body: Body) -> Body:
        return body

    app.include_router(router)
    return app


@pytest.fixture
async def raw_client(settings: Settings):
    app = _app_with_routes(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


@pytest.mark.embedded_only
async def test_unhandled_error_is_generic_problem_json(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.get("/boom", headers={"X-Request-ID": "req-1"})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "internal-error"
    assert body["request_id"] == "req-1"
    assert "hunter2" not in r.text
    assert "Traceback" not in r.text


@pytest.mark.embedded_only
async def test_domain_error_keeps_its_code(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.get("/missing")
    assert r.status_code == 404
    assert r.json()["code"] == "thing-not-found"
    assert r.json()["type"].endswith("/thing-not-found")


@pytest.mark.embedded_only
async def test_validation_error_lists_fields(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.post("/echo", json={"nom": 1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["body", "name"]


@pytest.mark.embedded_only
async def test_malformed_json_is_a_problem_not_a_crash(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.post("/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["code"] == "validation-failed"


@pytest.mark.embedded_only
async def test_oversized_body_is_413(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 1024})
    app = _app_with_routes(small)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post("/echo", json={"name": "x" * 5000})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.embedded_only
async def test_method_not_allowed_is_problem_json(raw_client: httpx.AsyncClient) -> None:
    r = await raw_client.delete("/healthz")
    assert r.status_code == 405
    assert r.json()["code"] == "method-not-allowed"


@pytest.mark.embedded_only
async def test_an_unhandled_error_is_logged_once(
    raw_client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert (await raw_client.get("/boom")).status_code == 500
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert text.count("unhandled_error") == 1, text
    assert "Exception in ASGI application" not in text


@pytest.mark.embedded_only
async def test_a_client_that_leaves_mid_body_is_not_an_error(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app_with_routes(settings)
    messages: Iterator[dict[str, object]] = iter(
        [{"type": "http.request", "body": b'{"na', "more_body": True}, {"type": "http.disconnect"}]
    )
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    async with LifespanManager(app):
        capsys.readouterr()
        await app(scope, receive, send)
    logged = capsys.readouterr()
    assert "unhandled_error" not in logged.out + logged.err
    assert "Traceback" not in logged.out + logged.err


@pytest.mark.embedded_only
async def test_405_names_every_method_the_path_has(client: httpx.AsyncClient) -> None:
    r = await client.options("/api/v1/users/me")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "PATCH", "DELETE"}


@pytest.mark.embedded_only
@pytest.mark.settings(api_docs=False)
async def test_the_api_reference_can_be_switched_off(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 404
    assert (await client.get("/docs")).status_code == 404
    assert (await client.get("/healthz")).status_code == 200
