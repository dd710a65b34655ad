"""What the page costs to load: requests and bytes on a first and a repeat visit (counted on the wire by
the test proxy, the service worker's own downloads included), and time to interactive on a phone
profile. The figures go to build/test-artifacts/web/load.json; the assertions are about what must never
happen (a repeat visit downloading the app again, an app shell that outgrows its budget), not about time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import ARTIFACTS, Web

pytestmark = pytest.mark.embedded_only

# The whole app shell (HTML, CSS, every module, icons, manifest), compressed, as first loaded.
SHELL_BUDGET_BYTES = 120_000
# A phone on a slow 4G link with a CPU four times slower than this machine's.
NETWORK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
CPU_SLOWDOWN = 4


def timings(page: Page) -> dict[str, float]:
    page.wait_for_function("performance.getEntriesByName('ecoeco:interactive').length > 0")
    found: dict[str, float] = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType('navigation')[0];
          const paint = performance.getEntriesByName('first-contentful-paint')[0];
          return {
            dom_content_loaded_ms: nav.domContentLoadedEventEnd,
            first_contentful_paint_ms: paint ? paint.startTime : null,
            interactive_ms: performance.getEntriesByName('ecoeco:interactive')[0].startTime,
          };
        }"""
    )
    return found


def visit(web: Web, page: Page) -> dict[str, Any]:
    web.proxy.reset_counters()
    page.goto("/")
    expect(page.get_by_role("heading", level=1, name="찍으면, 버리는 법이 보여요")).to_be_visible()
    measured: dict[str, Any] = timings(page)
    expect(page.get_by_role("button", name="개발용 계정으로 계속하기")).to_be_visible()
    measured["requests_until_interactive"] = len(web.proxy.requests)
    measured["bytes_until_interactive"] = web.proxy.bytes_down
    # The service worker installs after the page is up; what it downloads counts too.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    measured["requests"] = len(web.proxy.requests)
    measured["bytes"] = web.proxy.bytes_down
    measured["assets_from_network"] = sum(r.target.startswith("/assets/") for r in web.proxy.requests)
    measured["paths"] = [r.target for r in web.proxy.requests]
    return measured


def phone(page: Page) -> Page:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", NETWORK)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    return page


def test_first_and_repeat_visit(web: Web) -> None:
    page = phone(web.page(via_proxy=True, device_scale_factor=3, is_mobile=True, has_touch=True))
    first = visit(web, page)
    repeat = visit(web, phone(web.watch(page.context.new_page())))

    report = {"profile": {"network": NETWORK, "cpu_slowdown": CPU_SLOWDOWN}, "first": first, "repeat": repeat}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps({k: {m: v for m, v in r.items() if m != "paths"} for k, r in report.items()}, indent=2))

    assert first["assets_from_network"] > 5
    assert first["bytes"] < SHELL_BUDGET_BYTES, first
    # A repeat visit takes every asset from the service worker's cache: only the page revalidates.
    assert repeat["assets_from_network"] == 0, repeat["paths"]
    assert repeat["bytes"] < first["bytes"] / 5, (repeat, first)
