"""What a person does with the web app, in a real browser against real servers (both backends)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import FilePayload, Page, Route, expect

from tests.support.sample_images import encode, photo
from tests.web.conftest import Web, freeze, thaw

SCANS = "/api/v1/waste/scans"


def jpeg(name: str) -> FilePayload:
    return {
        "name": f"{name}.jpg",
        "mimeType": "image/jpeg",
        "buffer": encode(photo(name), "JPEG", quality=90),
    }


def result_heading(page: Page) -> str:
    heading = page.locator("article.result-card h1")
    expect(heading).to_be_visible()
    return heading.inner_text()


def history_rows(page: Page) -> list[str]:
    page.get_by_role("navigation").get_by_role("link", name="기록").click()
    expect(page.get_by_role("heading", level=1, name="내 기록")).to_be_visible()
    rows = page.locator(".scan-list .scan-title")
    expect(rows.first).to_be_visible()
    return rows.all_inner_texts()


def test_the_whole_journey(web: Web) -> None:
    # Service workers off here: this test watches the page's own requests (see the retry below).
    page = web.page(service_workers="block")
    page.goto("/")
    expect(page.get_by_role("heading", level=1, name="찍으면, 버리는 법이 보여요")).to_be_visible()
    web.screen(page, "home-signed-out")

    web.sign_in(page)
    web.screen(page, "scan-form")

    # Take a photo (the camera input) and send it: upload, signed PUT, scan, live stages, result.
    page.set_input_files("#photo-camera", files=[jpeg("coffee")])
    expect(page.get_by_role("img", name="고른 사진")).to_be_visible()
    web.screen(page, "scan-photo-chosen")
    # The live stages are watched step by step in test_live_stages_and_a_stream_cut_mid_scan.
    page.get_by_role("button", name="버리는 법 알아보기").click()
    assert result_heading(page) == "머그컵"
    steps = page.locator("ol.steps li")
    assert steps.count() >= 1
    expect(page.locator(".confidence")).to_contain_text("확신 정도")
    web.screen(page, "result")

    # Say it was wrong and pick the right item from the type-ahead.
    page.get_by_role("button", name="틀렸어요").click()
    box = page.get_by_role("combobox", name="맞는 물건 찾기")
    expect(box).to_be_focused()
    box.fill("종이컵")
    page.get_by_role("option", name="종이컵").click()
    web.screen(page, "feedback-correction")
    page.get_by_role("button", name="이 물건으로 고치기").click()
    expect(page.get_by_role("status").filter(has_text="종이컵")).to_contain_text("다시 찍으면")
    web.screen(page, "feedback-sent")

    assert history_rows(page) == ["머그컵"]
    # A mug is no recyclable: the collection holds the mascot every account starts with.
    expect(page.get_by_role("heading", name="모은 캐릭터 1/13")).to_be_visible()
    expect(page.locator(".character-list li")).to_have_text(
        ["이코 분리배출을 같이 고민해 주는 이코에코의 안내자예요."]
    )
    thumb = page.locator(".scan-list img.thumb").first
    expect(thumb).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    web.screen(page, "history")

    # The same photo again. The first answer to the scan request is lost on the way back (the server
    # made the scan): the page retries with the same Idempotency-Key and gets that same scan.
    keys: list[str] = []

    def lose_first_answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(f"**{SCANS}", lose_first_answer)
    page.get_by_role("navigation").get_by_role("link", name="스캔").click()
    page.set_input_files("#photo-file", files=[jpeg("coffee")])
    page.get_by_role("button", name="버리는 법 알아보기").dblclick()  # a double tap
    assert result_heading(page) == "종이컵"
    expect(page.locator(".confidence")).to_contain_text("전에 확인된 사진과 같아요")
    assert len(keys) == 2 and keys[0] == keys[1], keys
    page.unroute(f"**{SCANS}")

    assert history_rows(page) == ["종이컵", "머그컵"]
    expect(page.locator(".stat").first).to_contain_text("2번")


def test_a_question_alone(web: Web) -> None:
    page = web.page()
    web.sign_in(page)
    page.get_by_role("textbox", name="질문 (선택)").fill("아이스팩 어떻게 버려요?")
    page.get_by_role("button", name="버리는 법 알아보기").click()
    assert result_heading(page) == "아이스팩"
    expect(page.locator(".confidence")).to_contain_text("질문으로 찾은 답")
    expect(page.get_by_text("질문: 아이스팩 어떻게 버려요?")).to_be_visible()
    web.screen(page, "result-question")


def test_a_second_person_never_sees_the_first_ones_scans(web: Web) -> None:
    alice = web.page()
    web.sign_in(alice)
    alice.set_input_files("#photo-file", files=[jpeg("coffee")])
    alice.get_by_role("button", name="버리는 법 알아보기").click()
    result_heading(alice)
    scan_url = alice.url
    image = alice.locator("img.result-photo").get_attribute("src")
    assert image and re.fullmatch(rf"{SCANS}/[0-9a-f-]+/image", image)
    assert alice.request.get(image).status == 200

    bob = web.page()  # another browser context: its own cookies
    web.sign_in(bob)
    bob.get_by_role("navigation").get_by_role("link", name="기록").click()
    expect(bob.get_by_text("아직 스캔한 게 없어요.")).to_be_visible()
    bob.goto(scan_url.removeprefix(web.stack.url))
    expect(bob.get_by_role("heading", level=1, name="스캔을 찾을 수 없어요")).to_be_visible()
    assert bob.request.get(image).status == 404
    assert bob.request.get(scan_url.replace("/scans/", f"{SCANS}/").removeprefix(web.stack.url)).status == 404


@pytest.mark.distributed_only  # the worker is its own process here, so it can be paused
def test_live_stages_and_a_stream_cut_mid_scan(web: Web) -> None:
    """The worker is paused, the page shows the stages so far, the proxy drops the event stream after
    its first event; the browser reconnects with Last-Event-ID and the page still ends on the result."""
    page = web.page(via_proxy=True)
    web.sign_in(page)
    worker = web.stack.processes["worker"].pid
    already = len(web.proxy.event_stream_requests())
    freeze(worker)
    try:
        web.proxy.cut_next_event_stream()
        page.set_input_files("#photo-camera", files=[jpeg("coffee")])
        page.get_by_role("button", name="버리는 법 알아보기").click()
        expect(page.get_by_role("heading", level=1, name="알아보는 중이에요")).to_be_visible()
        expect(page.get_by_text("연결이 끊겨 다시 연결하는 중이에요…")).to_be_visible()
        expect(page.locator(".stage[data-state=done]")).to_have_count(2)  # photo checked, cache looked at
        expect(page.locator("progress")).to_have_attribute("value", "25")
        expect(page.locator(".stage[data-state=current]")).to_have_count(1)
        web.screen(page, "scan-progress")
    finally:
        thaw(worker)
    result_heading(page)
    streams = web.proxy.event_stream_requests()[already:]
    assert web.proxy.cuts >= 1
    assert len(streams) >= 2, streams
    assert "last-event-id" not in streams[0].headers, streams
    assert int(streams[1].headers.get("last-event-id", 0)) >= 1, streams
