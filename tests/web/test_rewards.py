"""A character earned by a scan, as a person sees it: on the result card, then in the collection."""

from __future__ import annotations

from playwright.sync_api import expect

from ecoeco.recycling.knowledge import get_knowledge_base
from tests.rewards.conftest import model_says
from tests.support.fixtures_openai import FakeOpenAI
from tests.web.conftest import Web
from tests.web.test_journeys import jpeg, result_heading


def test_a_scan_that_earns_a_character_says_so_and_the_collection_shows_it(
    scripted_web: Web, fake_openai: FakeOpenAI
) -> None:
    web = scripted_web
    page = web.page()
    web.sign_in(page)
    bottle = get_knowledge_base().search("생수병", limit=1)[0].item
    fake_openai.answer(model_says("생수병"))  # a clean, confident clear-PET answer: it earns 페티

    page.set_input_files("#photo-camera", files=[jpeg("coffee")])
    page.get_by_role("button", name="버리는 법 알아보기").click()
    assert result_heading(page) == bottle.name_ko
    reward = page.locator(".result-card .reward")
    expect(reward).to_have_text("새 캐릭터를 모았어요: 페티. 모은 캐릭터 보기")
    web.screen(page, "result-reward")

    reward.get_by_role("link", name="모은 캐릭터 보기").click()
    expect(page.get_by_role("heading", name="모은 캐릭터 2/13")).to_be_visible()
    expect(page.locator(".character-list li strong")).to_have_text(["이코", "페티"])

    # The same photo again earns nothing more, and the card says nothing about a reward.
    fake_openai.answer(model_says("생수병"))
    page.get_by_role("navigation").get_by_role("link", name="스캔").click()
    page.set_input_files("#photo-camera", files=[jpeg("coffee")])
    page.get_by_role("button", name="버리는 법 알아보기").click()
    assert result_heading(page) == bottle.name_ko
    expect(page.locator(".result-card .confidence")).to_be_visible()
    expect(page.locator(".result-card .reward")).to_have_count(0)
