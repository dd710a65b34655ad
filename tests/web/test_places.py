"""Nearby collection points: the browser's (mocked) location, the category and open-now filters, a
place typed in, and the map links. Points come from points.csv, imported with `ecoeco locations import`."""

from __future__ import annotations

import csv
import math

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Web
from tests.web.stack import POINTS

pytestmark = pytest.mark.embedded_only

CITY_HALL = {"latitude": 37.5663, "longitude": 126.9779}
# Ours, nearest first from CITY_HALL; other points (a bundled data set) may lie in between.
OURS = {row["name"]: row for row in csv.DictReader(POINTS.open(encoding="utf-8"))}


def metres(a: dict[str, float], lat: float, lon: float) -> float:
    """Great-circle distance (spherical Earth, mean radius), as the server computes it."""
    p1, p2 = math.radians(a["latitude"]), math.radians(lat)
    dp, dl = p2 - p1, math.radians(lon - a["longitude"])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def listed(page: Page) -> list[str]:
    expect(page.locator(".place-list")).not_to_have_attribute("aria-busy", "true")
    return [n for n in page.locator(".place h3").all_inner_texts() if n in OURS]


def test_nearest_points_from_my_location(web: Web) -> None:
    page = web.page(geolocation=CITY_HALL, permissions=["geolocation"])
    page.goto("/places")
    expect(page.get_by_role("heading", level=1, name="가까운 수거함")).to_be_visible()
    web.screen(page, "places-start")

    page.get_by_role("button", name="내 위치로 찾기").click()
    expect(page.get_by_role("status").filter(has_text="내 위치 주변")).to_be_visible()
    assert listed(page)[:4] == [
        "시청 폐건전지 수거함",
        "덕수궁 헌옷 수거함",
        "서울광장 자원순환가게",
        "을지로 소형가전 수거함",
    ]
    first = page.locator(".place").filter(has_text="시청 폐건전지 수거함")
    expected = metres(CITY_HALL, 37.56655, 126.97815)
    expect(first.locator(".distance")).to_have_text(f"{round(expected)} m")
    expect(first.locator(".open")).to_contain_text("지금 열려 있어요")
    expect(first.get_by_role("listitem")).to_have_text(["전지", "조명제품(형광등·LED)"])
    kakao = first.get_by_role("link", name="카카오맵 (새 창)")
    assert kakao.get_attribute("href") == (
        "https://map.kakao.com/link/map/%EC%8B%9C%EC%B2%AD%20%ED%8F%90%EA%B1%B4%EC%A0%84%EC%A7%80%20"
        "%EC%88%98%EA%B1%B0%ED%95%A8,37.56655,126.97815"
    )
    assert "c=126.97815,37.56655," in (
        first.get_by_role("link", name="네이버 지도 (새 창)").get_attribute("href") or ""
    )
    expect(page.locator(".place").filter(has_text="서울광장 자원순환가게").locator(".open")).to_contain_text(
        "닫혀"
    )
    expect(page.locator(".place").filter(has_text="덕수궁 헌옷 수거함").locator(".open")).to_have_text(
        "운영 시간 정보 없음"
    )
    web.screen(page, "places-results")

    # "Batteries near me", then only those open now.
    page.get_by_label("품목", exact=True).select_option("battery")
    expect(page.locator(".place").first).to_be_visible()
    assert listed(page)[:2] == ["시청 폐건전지 수거함", "을지로 소형가전 수거함"]
    assert "덕수궁 헌옷 수거함" not in listed(page)
    page.get_by_label("품목", exact=True).select_option("")
    page.get_by_label("지금 열린 곳만").check()
    expect(page.locator(".place").filter(has_text="서울광장 자원순환가게")).to_have_count(0)
    assert "시청 폐건전지 수거함" in listed(page)
    web.screen(page, "places-filtered")


def test_points_around_a_place_typed_in(web: Web) -> None:
    page = web.page()  # no location permission at all
    page.goto("/places")
    page.get_by_role("searchbox", name="장소로 찾기").fill("마포구청")
    page.get_by_role("button", name="찾기", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="‘마포구청 폐건전지 수거함’ 주변")).to_be_visible()
    assert listed(page)[:2] == ["마포구청 폐건전지 수거함", "망원동 폐형광등 수거함"]
    expect(page.locator(".place").first.locator(".distance")).to_have_text("0 m")

    page.get_by_role("searchbox", name="장소로 찾기").fill("없는동네이름")
    page.get_by_role("button", name="찾기", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("‘없는동네이름’으로 찾은 장소가 없어요.")


def test_location_permission_refused(web: Web) -> None:
    page = web.page()  # the browser denies geolocation without a grant
    page.goto("/places")
    page.get_by_role("button", name="내 위치로 찾기").click()
    expect(page.get_by_role("alert")).to_have_text("위치 권한이 없어요. 장소 이름으로 찾아 보세요.")
