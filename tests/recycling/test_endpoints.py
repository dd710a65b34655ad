"""The public recycling API: categories, item search and guides, tags; errors are problem+json."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

import ecoeco.recycling.endpoints as recycling_endpoints
from ecoeco.app import create_app
from ecoeco.recycling.knowledge import KnowledgeBase
from ecoeco.recycling.loader import KnowledgeBaseError
from ecoeco.settings import Settings

BASE = "/api/v1/recycling"
PROBLEM = "application/problem+json"


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


async def test_categories_tree_with_counts(client: httpx.AsyncClient, kb: KnowledgeBase) -> None:
    r = await client.get(f"{BASE}/categories")
    assert r.status_code == 200
    tree = r.json()
    majors = {m["id"]: m for m in tree["majors"]}
    assert list(majors) == list(kb.majors)
    recyclable = [m.id for m in kb.middles.values() if m.major == "recyclable"]
    assert [m["id"] for m in majors["recyclable"]["middles"]] == recyclable
    assert sum(m["item_count"] for m in majors.values()) == len(kb.items)
    paper = next(m for m in majors["recyclable"]["middles"] if m["id"] == "paper")
    assert paper["item_count"] == len(kb.items_in("paper"))
    assert (paper["name_ko"], paper["name_en"]) == ("종이류", "Paper")
    assert tree["version"] == kb.version


async def test_responses_are_cacheable_per_version_and_language(
    client: httpx.AsyncClient, kb: KnowledgeBase
) -> None:
    ko = await client.get(f"{BASE}/categories")
    en = await client.get(f"{BASE}/categories", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert ko.headers["etag"] != en.headers["etag"]
    assert kb.version in ko.headers["etag"]
    assert ko.headers["cache-control"].startswith("public")
    assert en.headers["content-language"] == "en"
    assert en.json()["majors"][0]["summary"] == kb.majors["recyclable"].summary.en

    again = await client.get(f"{BASE}/categories", headers={"If-None-Match": ko.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    # The Korean ETag does not validate the English representation.
    other = await client.get(
        f"{BASE}/categories", headers={"If-None-Match": ko.headers["etag"], "Accept-Language": "en"}
    )
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("페트병", "water_bottle_pet"),
        ("생수병", "water_bottle_pet"),
        ("PET", "water_bottle_pet"),
        ("스티로폼", "styrofoam_box"),
        ("아이스박스", "styrofoam_box"),
        ("우유 팩", "milk_carton"),
        ("우유팩을", "milk_carton"),
        ("컵", "plastic_cup"),
    ],
)
async def test_item_search(client: httpx.AsyncClient, q: str, expected: str) -> None:
    r = await client.get(f"{BASE}/items", params={"q": q})
    assert r.status_code == 200, r.text
    first = r.json()["items"][0]
    assert first["id"] == expected
    assert first["score"] > 0.9


async def test_search_within_a_category(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{BASE}/items", params={"q": "병", "category": "glass_bottle", "limit": 100})
    items = r.json()["items"]
    assert items
    assert {i["middle"] for i in items} == {"glass_bottle"}


async def test_browsing_pages_through_everything_once(client: httpx.AsyncClient, kb: KnowledgeBase) -> None:
    seen: list[str] = []
    params: dict[str, str | int] = {"category": "plastic", "limit": 7}
    for _ in range(20):
        page = (await client.get(f"{BASE}/items", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [item.id for item in kb.items_in("plastic")]


async def test_cursor_of_another_query_is_refused(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"{BASE}/items", params={"q": "병", "limit": 2})).json()
    assert page["next_cursor"]
    r = await client.get(f"{BASE}/items", params={"q": "캔", "cursor": page["next_cursor"]})
    _problem(r, 400, "invalid-cursor")
    _problem(await client.get(f"{BASE}/items", params={"cursor": "garbage!"}), 400, "invalid-cursor")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"q": ""}, 400, "empty-query"),
        ({"q": "   "}, 400, "empty-query"),
        ({"q": "어떻게 버려요?"}, 400, "empty-query"),
        ({"q": "가" * 101}, 422, "validation-failed"),
        ({"limit": 0}, 422, "validation-failed"),
        ({"limit": 101}, 422, "validation-failed"),
        ({"category": "plastics"}, 400, "unknown-category"),
    ],
)
async def test_bad_search_input_is_a_precise_client_error(
    client: httpx.AsyncClient, params: dict[str, Any], status: int, code: str
) -> None:
    _problem(await client.get(f"{BASE}/items", params=params), status, code)


async def test_search_without_matches_is_an_empty_page(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{BASE}/items", params={"q": "zzqx"})
    assert r.json() == {"items": [], "next_cursor": None}


async def test_item_guide_in_korean(client: httpx.AsyncClient, kb: KnowledgeBase) -> None:
    r = await client.get(f"{BASE}/items/water_bottle_pet")
    assert r.status_code == 200
    guide = r.json()
    assert guide["middle"] == {"id": "clear_pet", "name": "투명 페트병"}
    assert [s["number"] for s in guide["steps"]] == list(range(1, len(guide["steps"]) + 1))
    assert guide["steps"][1]["text"] == "비닐 라벨을 떼어 내요."
    situations = {s["tag"]: s for s in guide["situations"]}
    assert situations["label_attached"]["prep"] == kb.tags["label_attached"].prep.ko
    assert situations["colored_pet"]["instead_id"] == "colored_pet_bottle"
    assert {"what": "색깔 있는 페트병", "instead_id": "colored_pet_bottle"}.items() <= guide["not_accepted"][
        0
    ].items()
    assert guide["summary"] == "생수병은 투명 페트병 전용 수거함에 버려요."


@pytest.mark.parametrize("accept_language", ["en", "fr, en;q=0.8"])
async def test_item_guide_in_english(client: httpx.AsyncClient, accept_language: str) -> None:
    r = await client.get(f"{BASE}/items/soju_bottle", headers={"Accept-Language": accept_language})
    guide = r.json()
    assert guide["lang"] == "en"
    assert guide["bin"] == "glass-bottle bin"
    situations = {s["tag"]: s for s in guide["situations"]}
    assert situations["broken"]["instead"] == "Broken glass"
    assert any(n["instead"] == "Mirror" for n in guide["not_accepted"])


async def test_unknown_item_is_404_problem(client: httpx.AsyncClient) -> None:
    body = _problem(await client.get(f"{BASE}/items/unicorn_horn"), 404, "item-not-found")
    assert "unicorn_horn" in body["detail"]


async def test_tags_list_each_with_its_preparation(client: httpx.AsyncClient, kb: KnowledgeBase) -> None:
    r = await client.get(f"{BASE}/tags", headers={"Accept-Language": "en"})
    page = r.json()
    assert len(page["items"]) == len(kb.tags) >= 60
    wet = next(t for t in page["items"] if t["id"] == "wet")
    assert wet["prep"] == kb.tags["wet"].prep.en
    first = (await client.get(f"{BASE}/tags", params={"limit": 10})).json()
    rest = (await client.get(f"{BASE}/tags", params={"limit": 100, "cursor": first["next_cursor"]})).json()
    assert [t["id"] for t in first["items"] + rest["items"]] == list(kb.tags)


@pytest.mark.embedded_only
async def test_broken_rules_stop_the_app_from_starting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> KnowledgeBase:
        raise KnowledgeBaseError(["items/paper.yaml: item 'x': middle 'y' does not exist"])

    monkeypatch.setattr(recycling_endpoints, "get_knowledge_base", broken)
    with pytest.raises(KnowledgeBaseError, match="middle 'y' does not exist"):
        async with LifespanManager(create_app(settings)):
            pass
