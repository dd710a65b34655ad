"""/docs works with no internet: Swagger UI's files come from the app, under a strict CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import Route, expect

from tests.web.conftest import DESKTOP, Web

pytestmark = pytest.mark.embedded_only


def test_api_docs_render_offline(web: Web) -> None:
    page = web.page(viewport=DESKTOP)
    elsewhere: list[str] = []

    def no_internet(route: Route) -> None:
        if route.request.url.startswith(web.stack.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", no_internet)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ecoeco")
    expect(page.locator(".opblock-summary-path").filter(has_text="/api/v1/waste/scans").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert elsewhere == []
    page.screenshot(path=str(web_artifact(web, "docs-1280x800.png")))


def web_artifact(web: Web, name: str) -> object:
    from tests.web.conftest import ARTIFACTS

    folder = ARTIFACTS / web.backend
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
