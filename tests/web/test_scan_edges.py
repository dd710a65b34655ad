"""Scans that do not go the easy way: a photo the model is not sure about, a file that is no image."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Request, expect

from tests.support.sample_images import photo
from tests.web.conftest import Web
from tests.web.test_journeys import result_heading

pytestmark = pytest.mark.embedded_only  # the browser side is the same on both; journeys cover both


def big_astronaut() -> bytes:
    """A ~2 MB, 2600 px phone-sized photo of something that is not waste."""
    im = photo("astronaut").resize((2600, 2600), Image.Resampling.BICUBIC)
    grain = np.random.default_rng(1).integers(-12, 12, (2600, 2600, 3))
    noisy = Image.fromarray(np.clip(np.asarray(im).astype(np.int16) + grain, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=92)
    return out.getvalue()


def test_a_photo_the_model_is_not_sure_about(web: Web) -> None:
    page = web.page()
    web.sign_in(page)
    original = big_astronaut()
    announced: list[dict[str, Any]] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/waste/uploads"):
            announced.append(request.post_data_json or {})

    page.on("request", on_request)
    files: list[FilePayload] = [{"name": "astronaut.jpg", "mimeType": "image/jpeg", "buffer": original}]
    page.set_input_files("#photo-file", files=files)
    page.get_by_role("button", name="버리는 법 알아보기").click()
    expect(page.get_by_role("heading", level=1, name="무엇인지 잘 모르겠어요")).to_be_visible()
    # A large photo is scaled down (and re-encoded without its EXIF) in the browser before the upload.
    assert len(announced) == 1, announced
    assert announced[0]["content_type"] == "image/jpeg"
    assert 0 < int(str(announced[0]["size"])) < len(original) / 2, (announced, len(original))
    web.screen(page, "result-unsure")

    # Pick it from the list: the photo is taught for this person and the guide is one tap away.
    box = page.get_by_role("combobox", name="맞는 물건 찾기")
    box.fill("우유")
    expect(page.get_by_role("option").first).to_have_text("우유팩")
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("우유팩")
    page.get_by_role("button", name="이 물건으로 고치기").click()
    expect(page.get_by_role("status").filter(has_text="‘우유팩’으로 기록했어요.")).to_be_visible()

    # Or describe it in words: a new scan from the description alone.
    page.get_by_role("textbox", name="어떤 물건인지 적어 주세요").fill("멸균팩 두유")
    unsure_scan = page.url
    page.get_by_role("button", name="이 설명으로 다시 알아보기").click()
    page.wait_for_url(lambda url: url != unsure_scan)
    assert result_heading(page) == "두유팩"
    expect(page.get_by_text("질문: 멸균팩 두유")).to_be_visible()


def test_a_file_the_server_refuses(web: Web) -> None:
    page = web.page()
    web.sign_in(page)
    not_a_photo: FilePayload = {
        "name": "photo.jpg",
        "mimeType": "image/jpeg",
        "buffer": b"just some text, no pixels",
    }
    page.set_input_files("#photo-file", files=[not_a_photo])
    page.get_by_role("button", name="버리는 법 알아보기").click()
    expect(page.get_by_role("alert")).to_have_text("사진 파일(JPEG, PNG, WebP, HEIC)만 알아볼 수 있어요.")
    expect(page.get_by_role("button", name="버리는 법 알아보기")).to_be_enabled()
    web.screen(page, "scan-refused")

    # Nothing is broken: drop the file and ask instead.
    page.get_by_role("button", name="사진 빼기").click()
    page.get_by_role("textbox", name="질문 (선택)").fill("우유팩")
    page.get_by_role("button", name="버리는 법 알아보기").click()
    assert result_heading(page) == "우유팩"
