"""The account screen: nickname (shown as text, never as markup), language, and deleting the account."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Web

pytestmark = pytest.mark.embedded_only


def test_nickname_language_and_deleting_the_account(web: Web) -> None:
    page = web.page()
    web.sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="내 정보").click()
    expect(page.get_by_role("heading", level=1, name="내 정보")).to_be_visible()
    expect(page.get_by_text("개발용 계정")).to_be_visible()
    web.screen(page, "account")

    # A nickname that looks like markup stays text everywhere it is shown.
    markup = "<b>초록</b><i>x</i>"
    page.get_by_role("textbox", name="닉네임").fill(markup)
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_role("status").filter(has_text="저장했어요.")).to_be_visible()
    header = page.locator("#account-link")
    expect(header).to_have_text(markup)
    assert header.locator("b, i").count() == 0
    page.reload()
    expect(page.get_by_role("textbox", name="닉네임")).to_have_value(markup)

    # English by a switch, remembered across loads; new answers come in English too.
    page.get_by_role("radio", name="English").check()
    expect(page.get_by_role("heading", level=1, name="Account")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    web.screen(page, "account-english")
    page.get_by_role("navigation").get_by_role("link", name="Scan").click()
    page.get_by_role("textbox", name="Question (optional)").fill("ice pack")
    page.get_by_role("button", name="Find out how").click()
    expect(page.locator("article.result-card h1")).to_have_text("Ice pack")
    expect(page.get_by_role("heading", name="How to dispose of it")).to_be_visible()
    web.screen(page, "result-english")
    page.reload()
    expect(page.get_by_role("heading", name="How to dispose of it")).to_be_visible()
    page.get_by_role("button", name="한국어로 보기").click()  # the header switch
    expect(page.get_by_role("navigation").get_by_role("link", name="내 정보")).to_be_visible()

    # Delete the account, after a confirmation: the person is signed out and the session is gone.
    page.get_by_role("navigation").get_by_role("link", name="내 정보").click()
    page.get_by_role("button", name="계정 삭제하기").click()
    dialog = page.get_by_role("dialog", name="계정을 삭제할까요?")
    expect(dialog).to_be_visible()
    web.screen(page, "account-delete")
    dialog.get_by_role("button", name="취소").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="계정 삭제하기").click()
    dialog.get_by_role("button", name="삭제하기").click()
    expect(page.get_by_role("status").filter(has_text="계정을 삭제했어요")).to_be_visible()
    expect(page.locator("#account-link")).to_have_text("로그인")
    expect(page.get_by_role("heading", level=1, name="찍으면, 버리는 법이 보여요")).to_be_visible()
    assert page.request.get("/api/v1/users/me").status == 401
    page.get_by_role("navigation").get_by_role("link", name="기록").click()
    expect(page.get_by_text("기록을 보려면 로그인하세요.")).to_be_visible()


def test_sign_out(web: Web) -> None:
    page = web.page()
    web.sign_in(page)
    page.goto("/account")
    page.get_by_role("button", name="로그아웃").click()
    expect(page.get_by_role("status").filter(has_text="로그아웃했어요.")).to_be_visible()
    expect(page.locator("#account-link")).to_have_text("로그인")
    assert page.request.get("/api/v1/users/me").status == 401
    page.goto("/signin")
    web.screen(page, "signin")


def test_a_refused_sign_in_is_explained(web: Web) -> None:
    page = web.page()
    page.goto("/signin")
    page.get_by_role("button", name="개발용 계정으로 계속하기").click()
    page.get_by_role("button", name="취소 (Deny)").click()
    expect(page.get_by_role("status").filter(has_text="로그인하지 못했어요.")).to_contain_text(
        "로그인을 취소했어요."
    )
    assert "auth_error" not in page.url
