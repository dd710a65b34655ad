"""The rules browser (no account): categories → items → a guide, search, and all of it offline once the
service worker has saved the rules."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Web

pytestmark = pytest.mark.embedded_only


def open_guide(page: Page, category: str, item: str, on_category: Callable[[], None] = lambda: None) -> None:
    """Categories → a category's items → one item's guide, by tapping links."""
    page.get_by_role("link", name=re.compile(f"^{category} ")).click()
    expect(page.get_by_role("heading", level=1, name=category)).to_be_visible()
    on_category()
    page.get_by_role("link", name=item, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(item)
    assert page.locator("ol.steps li").count() >= 1


def test_browse_search_and_read_the_rules_offline(web: Web) -> None:
    page = web.page()
    page.goto("/rules")
    expect(page.get_by_role("heading", level=1, name="배출 규칙")).to_be_visible()
    # The service worker saves every rule of this language, then says so.
    expect(page.get_by_role("status").filter(has_text="오프라인에서도 볼 수 있어요.")).to_be_visible()
    web.screen(page, "rules")

    open_guide(page, "종이팩", "우유팩", lambda: web.screen(page, "rules-category"))
    web.screen(page, "rules-item")

    page.get_by_role("navigation").get_by_role("link", name="배출 규칙").click()
    page.get_by_role("searchbox", name="물건 이름으로 찾기").fill("깨진 유리")
    expect(page.get_by_role("heading", name="‘깨진 유리’ 검색 결과")).to_be_visible()
    expect(page.locator(".search-results li").first).to_have_text("깨진 유리")
    web.screen(page, "rules-search")

    # No network at all: the app still opens, and rules never opened before can be read.
    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_role("status").filter(has_text="오프라인이에요")).to_be_visible()
        open_guide(page, "유리병", "소주병")
        web.screen(page, "rules-offline")
        # Search falls back to the saved catalogue.
        page.get_by_role("navigation").get_by_role("link", name="배출 규칙").click()
        page.get_by_role("searchbox", name="물건 이름으로 찾기").fill("우유")
        expect(page.locator(".search-results li").first).to_contain_text("우유팩")
    finally:
        page.context.set_offline(False)
