"""How ecoeco serves the web app and the docs over HTTP: the shell, versioned assets, the service
worker, the manifest, the security headers, and which app serves what (no browser needed)."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from ecoeco.app import create_app
from ecoeco.settings import Settings
from ecoeco.web.site import STATIC_DIR, content_security_policy, load_bundle, upload_origins

pytestmark = pytest.mark.embedded_only  # static files: the backend does not matter


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in csp.split("; ")}


async def asset_urls(client: httpx.AsyncClient) -> list[str]:
    page = (await client.get("/")).text
    return sorted({u.split("#")[0] for u in re.findall(r'(?:href|src)="(/assets/[^"]+)"', page)})


async def test_every_app_path_answers_with_the_shell_under_a_strict_csp(client: httpx.AsyncClient) -> None:
    shell = await client.get("/")
    assert shell.status_code == 200
    assert shell.headers["content-type"] == "text/html; charset=utf-8"
    csp = directives(shell.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]  # embedded: photos are PUT to the app itself
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert shell.headers["x-content-type-options"] == "nosniff"
    assert shell.headers["cache-control"] == "no-cache"
    assert "<script>" not in shell.text and " style=" not in shell.text  # nothing inline
    for path in (
        "/history",
        "/places",
        "/rules",
        "/rules/items/milk_carton",
        f"/scans/{uuid.uuid4()}",
        "/account",
    ):
        r = await client.get(path)
        assert r.status_code == 200 and r.text == shell.text, path
    missing = await client.get("/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    # Revalidation: the same shell is a 304.
    again = await client.get("/", headers={"If-None-Match": shell.headers["etag"]})
    assert again.status_code == 304 and not again.content


async def test_assets_are_versioned_immutable_and_compressed(client: httpx.AsyncClient) -> None:
    bundle = load_bundle()
    urls = await asset_urls(client)
    assert f"/assets/{bundle.version}/app.css" in urls
    assert f"/assets/{bundle.version}/js/main.js" in urls
    # Every module is preloaded: no waterfall of imports discovered one at a time.
    modules = {p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "js").rglob("*.js")}
    assert {u.split("/", 3)[3] for u in urls if u.endswith(".js")} == modules

    css = await client.get(f"/assets/{bundle.version}/app.css", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert css.headers["content-encoding"] == "gzip" and css.headers["vary"] == "Accept-Encoding"
    assert css.text == (STATIC_DIR / "app.css").read_text()  # httpx undid the gzip
    plain = await client.get(f"/assets/{bundle.version}/app.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content)) < len(plain.content)

    # A page from an older deploy still gets the file, but must not keep it for a year.
    old = await client.get("/assets/000000000000/app.css")
    assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
    assert (await client.get(f"/assets/{bundle.version}/nope.js")).status_code == 404
    assert (await client.get(f"/assets/{bundle.version}/%2e%2e/site.py")).status_code == 404
    head = await client.head(f"/assets/{bundle.version}/js/main.js")
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/javascript")


async def test_the_service_worker_caches_exactly_this_version(client: httpx.AsyncClient) -> None:
    bundle = load_bundle()
    worker = await client.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["cache-control"] == "no-cache"
    assert "'self'" in worker.headers["content-security-policy"]
    assert f"const VERSION = '{bundle.version}';" in worker.text
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", worker.text).group(1))  # type: ignore[union-attr]
    assert shell[:2] == ["/", "/manifest.webmanifest"]
    assert set(await asset_urls(client)) - {"/manifest.webmanifest"} <= set(shell)
    assert not [u for u in shell if "/docs/" in u]
    for url in shell:
        assert (await client.get(url)).status_code == 200, url


async def test_the_manifest_names_the_app_and_its_icons(client: httpx.AsyncClient) -> None:
    r = await client.get("/manifest.webmanifest")
    assert r.headers["content-type"] == "application/manifest+json"
    manifest = r.json()
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone" and manifest["lang"] == "ko"
    purposes = {icon["purpose"] for icon in manifest["icons"]}
    assert purposes == {"any", "maskable"}
    for icon in manifest["icons"]:
        got = await client.get(icon["src"])
        assert got.status_code == 200 and got.headers["content-type"] == icon["type"], icon
    assert (await client.get("/favicon.ico")).headers["content-type"] == "image/png"


async def test_docs_work_without_a_cdn_and_without_inline_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    csp = directives(page.headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts and all('src="/' in s for s in scripts), scripts
    assert "https://" not in page.text
    assert 'data-openapi-url="/openapi.json"' in page.text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        asset = await client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200 and asset.content, name
    assert (await client.get("/docs/assets/index.html")).status_code == 404
    assert (await client.get("/redoc")).status_code == 404  # it would load from a CDN
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "ecoeco"


def test_photos_may_go_to_the_s3_endpoint_of_the_presigned_urls() -> None:
    embedded = Settings(env="test")
    assert upload_origins(embedded) == []
    moto = Settings(env="test", s3_bucket="photos", s3_endpoint_url="http://127.0.0.1:9000/")
    assert upload_origins(moto) == ["http://127.0.0.1:9000", "http://photos.127.0.0.1:9000"]
    aws = Settings(env="test", s3_bucket="photos", s3_region="ap-northeast-2")
    assert upload_origins(aws) == [
        "https://photos.s3.ap-northeast-2.amazonaws.com",
        "https://photos.s3.amazonaws.com",
    ]
    csp = directives(content_security_policy(connect=upload_origins(aws)))
    assert csp["connect-src"] == ["'self'", *upload_origins(aws)]


@pytest.fixture
async def only(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, services=(request.param,))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.mark.parametrize("only", ["web"], indirect=True)
async def test_the_web_service_serves_the_app_and_no_api(only: httpx.AsyncClient) -> None:
    assert (await only.get("/")).status_code == 200
    assert (await only.get("/sw.js")).status_code == 200
    assert (await only.get("/api/v1/recycling/categories")).status_code == 404
    assert (await only.get("/healthz")).status_code == 200


@pytest.mark.parametrize("only", ["recycling"], indirect=True)
async def test_an_api_service_serves_its_api_and_docs_but_not_the_app(only: httpx.AsyncClient) -> None:
    assert (await only.get("/api/v1/recycling/categories")).status_code == 200
    assert (await only.get("/")).status_code == 404
    assert (await only.get("/docs")).status_code == 200
