"""The public locations API on both backends, fed by the data files that ship with the product."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ecoeco.core.clock import KST, Clock
from ecoeco.db.engine import Database
from ecoeco.locations import bundled
from ecoeco.locations import endpoints as locations_endpoints
from ecoeco.locations import repository as locations_repository
from ecoeco.locations import service as locations_service
from ecoeco.locations.geo import haversine_m
from ecoeco.locations.importer import SourceFormat
from ecoeco.locations.repository import NearQuery
from tests.locations.conftest import KECO

URL = "/api/v1/locations"
GOYANG = {"lat": 37.7025454, "lon": 126.901133}  # KECO site 1, 고양동 종합복지회관
FRIDGE = {"lat": 37.53138753, "lon": 127.1325739}  # zero-waste shop 프릿지


def backend_db(app: FastAPI) -> Database:
    db: Database = app.state.backends.db
    return db


async def import_reference(db: Database) -> None:
    await bundled.load(db)


async def get_ok(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_known_points_of_the_reference_files(
    app: FastAPI, client: httpx.AsyncClient, clock: Clock
) -> None:
    await import_reference(backend_db(app))
    # A Tuesday noon in Korea (no public holiday): site 1 is open on Tuesdays 11-14.
    clock.advance((dt.datetime(2027, 3, 9, 12, 0, tzinfo=KST) - clock.now()).total_seconds())

    page = await get_ok(client, URL, **GOYANG, limit=5, radius_m=20_000)
    first = page["items"][0]
    assert (first["name"], first["distance_m"]) == ("고양동 종합복지회관", 0.0)
    assert first["kind"] == "recycling_compensation"
    assert first["categories"] == ["paper", "clear_pet", "plastic", "metal"]
    assert (first["today"]["date"], first["today"]["open_now"]) == ("2027-03-09", True)
    distances = [i["distance_m"] for i in page["items"]]
    assert distances == sorted(distances)
    for item in page["items"]:
        assert item["distance_m"] == pytest.approx(
            haversine_m(GOYANG["lat"], GOYANG["lon"], item["lat"], item["lon"]), abs=0.01
        )
        assert item["distance_m"] <= 20_000

    shops = await get_ok(client, URL, **FRIDGE, kind="zero_waste_shop", limit=1)
    assert [(i["name"], i["distance_m"], i["today"]) for i in shops["items"]] == [("프릿지", 0.0, None)]
    assert (shops["items"][0]["coordinates"], first["coordinates"]) == ("published", "published")

    detail = await get_ok(client, f"{URL}/{first['id']}")
    assert (detail["source"], detail["source_id"], detail["phone"]) == ("keco", "1", "031-8075-2706")
    assert detail["opening_hours"]["week"]["tue"] == [{"open": "11:00", "close": "14:00"}]
    assert detail["extra"]["prkMthdExpln"] == "주차불가"
    assert detail["closed_at"] is None


async def test_shops_placed_from_map_coordinates_say_so(app: FastAPI, client: httpx.AsyncClient) -> None:
    await import_reference(backend_db(app))
    # 천연제작소 (양산) has only Kakao map x/y in the file: x=954058, y=510821.
    found = await get_ok(client, f"{URL}/search", q="천연제작소 경남 양산")
    [shop] = found["items"]
    assert shop["coordinates"] == "converted"
    assert shop["road_address"].startswith("경남 양산시 물금읍")
    assert 35.2 < shop["lat"] < 35.5 and 128.9 < shop["lon"] < 129.1  # 물금읍, 양산
    near = await get_ok(client, URL, lat=shop["lat"], lon=shop["lon"], limit=1)
    assert (near["items"][0]["id"], near["nearest_m"]) == (shop["id"], 0.0)
    detail = await get_ok(client, f"{URL}/{shop['id']}")
    assert (detail["coordinates"], detail["extra"]["x"], detail["extra"]["y"]) == (
        "converted",
        "954058",
        "510821",
    )
    # An "address" favourite: its name column held the road address, the shop's name was in the memo.
    [fixed] = (await get_ok(client, f"{URL}/search", q="경남지역자활 리본 옥포점"))["items"]
    assert (fixed["road_address"], fixed["lot_address"]) == ("경남 거제시 옥포로23길 5", "옥포동 518-8")


ULLEUNGDO = {"lat": 37.4844, "lon": 130.9057}  # no collection point on the island: the nearest is ashore


async def test_without_a_radius_the_nearest_however_far(app: FastAPI, client: httpx.AsyncClient) -> None:
    await import_reference(backend_db(app))
    page = await get_ok(client, URL, **ULLEUNGDO, category="battery", limit=3)
    distances = [i["distance_m"] for i in page["items"]]
    assert len(distances) == 3 and distances == sorted(distances)
    assert page["nearest_m"] == distances[0] > 100_000
    assert all("battery" in i["categories"] for i in page["items"])
    assert page["next_cursor"] is not None
    more = await get_ok(client, URL, **ULLEUNGDO, category="battery", limit=3, cursor=page["next_cursor"])
    assert more["nearest_m"] == page["nearest_m"]
    assert min(i["distance_m"] for i in more["items"]) >= distances[-1]
    # Within a radius: nothing, but the answer still says how far the nearest is.
    within = await get_ok(client, URL, **ULLEUNGDO, category="battery", radius_m=5_000)
    assert (within["items"], within["next_cursor"], within["nearest_m"]) == ([], None, page["nearest_m"])
    # Nothing anywhere matches: no distance to give.
    none = await get_ok(client, URL, **ULLEUNGDO, category="lamp", kind="zero_waste_shop")
    assert (none["items"], none["nearest_m"]) == ([], None)


async def test_nearest_is_index_driven(app: FastAPI) -> None:
    db = backend_db(app)
    await import_reference(db)
    query = NearQuery(ULLEUNGDO["lat"], ULLEUNGDO["lon"], None, 5)
    plan = "\n".join(await db.read(lambda conn: locations_repository.nearest_plan(conn, query)))
    if db.engine.dialect.name == "postgresql":
        assert "Index Scan using ix_locations_geom" in plan and "Order By: (geom <->" in plan, plan
    else:
        assert "SCAN r VIRTUAL TABLE INDEX" in plan and "SEARCH l USING INTEGER PRIMARY KEY" in plan, plan
    assert "Seq Scan" not in plan and "SCAN l" not in plan, plan


async def test_closed_points_leave_every_list_but_keep_their_page(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    db = backend_db(app)
    header, shop, other = "id,name,lat,lon\n", "1,리필가게,37.5,127\n", "3,상점,37.5003,127\n"
    older, newer = header + shop + "2,문 닫은 가게,37.5001,127\n" + other, header + shop + other
    first = await locations_service.import_file(db, older.encode(), "shops.csv", SourceFormat.SIMPLE)
    second = await locations_service.import_file(db, newer.encode(), "shops.csv", SourceFormat.SIMPLE)
    assert (first.inserted, second.updated, second.closed) == (3, 2, [("2", "문 닫은 가게")])

    def names(page: dict[str, Any]) -> list[str]:
        return [i["name"] for i in page["items"]]

    assert names(await get_ok(client, URL, lat=37.5001, lon=127.0)) == ["리필가게", "상점"]
    assert names(await get_ok(client, URL, lat=37.5001, lon=127.0, radius_m=100)) == ["리필가게", "상점"]
    assert names(await get_ok(client, URL, bbox="126.9,37.4,127.1,37.6")) == ["리필가게", "상점"]
    assert names(await get_ok(client, f"{URL}/search", q="가게")) == ["리필가게"]
    nearest = await get_ok(client, URL, lat=37.5001, lon=127.0, limit=1)
    assert nearest["nearest_m"] == pytest.approx(11.12, abs=0.01)  # the closed shop sat at 0 m
    async with db.engine.connect() as conn:
        closed_id = (await locations_repository.source_rows(conn, "shops"))["2"].id
    detail = await get_ok(client, f"{URL}/{closed_id}")
    assert detail["name"] == "문 닫은 가게" and detail["closed_at"] is not None
    # Listed again: open again, the same row.
    again = await locations_service.import_file(db, older.encode(), "shops.csv", SourceFormat.SIMPLE)
    assert (again.reopened, again.closed) == (1, [])
    assert (await get_ok(client, f"{URL}/{closed_id}"))["closed_at"] is None
    assert names(await get_ok(client, URL, lat=37.5001, lon=127.0))[0] == "문 닫은 가게"


async def test_import_is_idempotent(app: FastAPI) -> None:
    db = backend_db(app)
    first = await locations_service.import_file(db, KECO.read_bytes(), KECO.name, SourceFormat.KECO)
    again = await locations_service.import_file(db, KECO.read_bytes(), KECO.name, SourceFormat.KECO)
    assert (first.inserted, first.updated, len(first.rejected)) == (395, 0, 14)
    assert (again.inserted, again.updated, again.closed) == (0, 395, [])
    async with db.engine.connect() as conn:
        assert await locations_repository.count(conn, "keco") == 395


async def test_category_filter_requires_every_category(app: FastAPI, client: httpx.AsyncClient) -> None:
    await import_reference(backend_db(app))
    near = {"lat": 37.48, "lon": 126.72, "radius_m": 10_000, "limit": 100}  # 인천: many kinds of sites
    everything = (await get_ok(client, URL, **near))["items"]
    both = (await get_ok(client, URL, **near, category=["battery", "paper_pack"]))["items"]
    expected = [i["id"] for i in everything if {"battery", "paper_pack"} <= set(i["categories"])]
    assert expected, "the reference data has sites taking batteries and paper packs here"
    assert [i["id"] for i in both] == expected
    assert len(expected) < len(everything) < 100
    comma = (await get_ok(client, URL, **near, category="battery,paper_pack"))["items"]
    assert comma == both


async def test_pages_follow_the_cursor(app: FastAPI, client: httpx.AsyncClient) -> None:
    await import_reference(backend_db(app))
    query = {"lat": 37.45, "lon": 126.7, "radius_m": 10_000}  # 인천: dense
    whole = await get_ok(client, URL, **query, limit=100)
    assert whole["next_cursor"] is None
    assert len(whole["items"]) > 10
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await get_ok(client, URL, **query, limit=7, **({"cursor": cursor} if cursor else {}))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in seen] == [i["id"] for i in whole["items"]]
    first = await get_ok(client, URL, **query, limit=7)
    moved = await client.get(URL, params={**query, "lat": 37.46, "limit": 7, "cursor": first["next_cursor"]})
    assert (moved.status_code, moved.json()["code"]) == (400, "invalid-cursor")


async def test_open_now_filters_on_korea_time(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = (
        "name,lat,lon,hours\n"
        "항상 열림,37.5000,127.0000,매일 00:00~24:00\n"
        "늘 닫힘,37.5001,127.0000,매일 휴무\n"
        "모름,37.5002,127.0000,\n"
        "항상 열림 2,37.5003,127.0000,연중무휴 00:00~24:00\n"
    ).encode()
    await locations_service.import_file(backend_db(app), body, "test.csv", SourceFormat.SIMPLE)
    everything = (await get_ok(client, URL, lat=37.5, lon=127.0))["items"]
    assert [(i["name"], (i["today"] or {}).get("open_now")) for i in everything] == [
        ("항상 열림", True),
        ("늘 닫힘", False),
        ("모름", None),
        ("항상 열림 2", True),
    ]
    open_now = await get_ok(client, URL, lat=37.5, lon=127.0, open_now=True, limit=1)
    assert [i["name"] for i in open_now["items"]] == ["항상 열림"]
    rest = await get_ok(
        client, URL, lat=37.5, lon=127.0, open_now=True, limit=1, cursor=open_now["next_cursor"]
    )
    assert ([i["name"] for i in rest["items"]], rest["next_cursor"]) == (["항상 열림 2"], None)


async def test_map_viewport(app: FastAPI, client: httpx.AsyncClient) -> None:
    await import_reference(backend_db(app))
    bbox = "126.85,37.60,126.95,37.72"  # 고양 덕양구
    items = (await get_ok(client, URL, bbox=bbox, limit=100))["items"]
    assert "고양동 종합복지회관" in [i["name"] for i in items]
    assert all(126.85 <= i["lon"] <= 126.95 and 37.60 <= i["lat"] <= 37.72 for i in items)
    assert all(i["distance_m"] is None for i in items)
    ids = [i["id"] for i in items]
    assert ids == sorted(ids)
    first = await get_ok(client, URL, bbox=bbox, limit=2)
    second = await get_ok(client, URL, bbox=bbox, limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in first["items"] + second["items"]] == ids[:4]


async def test_search_is_korean_aware(app: FastAPI, client: httpx.AsyncClient) -> None:
    await import_reference(backend_db(app))

    async def names(q: str, **params: Any) -> list[str]:
        return [i["name"] for i in (await get_ok(client, f"{URL}/search", q=q, limit=100, **params))["items"]]

    assert (await names("고양동 종합 복지회관")) == ["고양동 종합복지회관"]
    assert (await names("ㄱㅇㄷㅈㅎ")) == ["고양동 종합복지회관"]
    # The shop's address says "서울 강동구"; people also type the official name.
    assert "프릿지" in await names("서울특별시 강동구 성안로")
    # Name matches rank before address matches.
    hits = await names("주교동")
    assert hits[0] == "주교동 행정복지센터"
    assert await names("주교동", kind="zero_waste_shop") == []
    pages = await get_ok(client, f"{URL}/search", q="행정복지센터", limit=5)
    more = await get_ok(client, f"{URL}/search", q="행정복지센터", limit=5, cursor=pages["next_cursor"])
    all_hits = await names("행정복지센터")
    assert [i["name"] for i in pages["items"] + more["items"]] == all_hits[:10]


BAD_REQUESTS = [
    ({"lat": 91, "lon": 127}, 400, "invalid-coordinates"),
    ({"lat": "nan", "lon": 127}, 400, "invalid-coordinates"),
    ({"lat": 127.0, "lon": 37.5}, 400, "coordinates-swapped"),
    ({"lat": 37.5}, 400, "missing-coordinates"),
    ({}, 400, "missing-coordinates"),
    ({"lat": "north", "lon": 127}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "radius_m": 0}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "radius_m": ""}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "radius_m": -5}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "radius_m": 10_000_000}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "radius_m": "inf"}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "limit": 0}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "limit": 101}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "category": "pets"}, 400, "unknown-category"),
    ({"lat": 37.5, "lon": 127, "kind": "castle"}, 422, "validation-failed"),
    ({"lat": 37.5, "lon": 127, "cursor": "%%%"}, 400, "invalid-cursor"),
    ({"bbox": "126,37,127"}, 400, "invalid-bbox"),
    ({"bbox": "a,b,c,d"}, 400, "invalid-bbox"),
    ({"bbox": "127,37,126,38"}, 400, "invalid-bbox"),
    ({"bbox": "37.4,126.9,37.6,127.1"}, 400, "invalid-bbox"),
    ({"bbox": "126,37,127,95"}, 400, "invalid-bbox"),
    ({"bbox": "126,37,127,38", "lat": 37.5, "lon": 127}, 400, "conflicting-parameters"),
    ({"bbox": "126,37,127,38", "open_now": True}, 400, "conflicting-parameters"),
]


@pytest.mark.parametrize(("params", "status", "code"), BAD_REQUESTS)
async def test_bad_queries_get_a_precise_problem(
    client: httpx.AsyncClient, params: dict[str, Any], status: int, code: str
) -> None:
    response = await client.get(URL, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_unknown_category_lists_the_valid_ones(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL, params={"lat": 37.5, "lon": 127, "category": ["battery", "pets"]})).json()
    assert "pets" in body["detail"]
    assert "clear_pet" in body["valid"]
    assert "battery" not in body["detail"].split(";")[0]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        (f"{URL}/search", {"q": "  !? "}, 400, "invalid-query"),
        (f"{URL}/search", {"q": "가" * 101}, 400, "invalid-query"),
        (f"{URL}/search", {}, 422, "validation-failed"),
        (f"{URL}/search", {"q": "가게", "category": "pets"}, 400, "unknown-category"),
        (f"{URL}/999999", {}, 404, "location-not-found"),
        (f"{URL}/abc", {}, 422, "validation-failed"),
    ],
)
async def test_bad_search_and_lookup(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    response = await client.get(path, params=params)
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_search_ignores_punctuation_and_case(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = "name,lat,lon\nRe:Fill 100% 상점,37.5,127.0\n리필 100원,37.5,127.1\n리필하우스,37.5,127.2\n"
    await locations_service.import_file(backend_db(app), body.encode(), "test.csv", SourceFormat.SIMPLE)
    hits = (await get_ok(client, f"{URL}/search", q="refill 100_%"))["items"]
    assert [i["name"] for i in hits] == ["Re:Fill 100% 상점"]


def _plain_queries() -> list[str]:
    rng = random.Random(15)

    def decimal(low: float, high: float) -> str:
        return f"{rng.uniform(low, high):.{rng.randint(0, 17)}f}"

    queries = [
        f"lat={decimal(33, 38.7)}&lon={decimal(124.5, 132)}{rng.choice(['', '&limit=1', '&limit=100'])}"
        for _ in range(30)
    ]
    return [
        *queries,
        "lon=126.901133&limit=5&lat=37.7025454",
        "lat=-0&lon=0",
        "lat=90&lon=180.000",
        "lat=127.0&lon=37.5",  # swapped
        "lat=91&lon=127",
        "lat=37.5&lon=127&limit=101",
        "lat=37.5&lon=127&limit=0",
        "lat=37.5&lon=127&limit=010",
        "lat=37.5&lon=127&lat=36",
        "lat=37.5&lon=1e2",
        "lat=37.5&lon=127.&limit=3",
        "lat=37.5&lon=127&",
        "lat=37.5",
    ]


async def test_plain_queries_answer_as_fastapi_does(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lat/lon/limit are read by the route itself (endpoints._plain_query), everything else by FastAPI."""
    await import_reference(backend_db(app))

    async def answer(query: str) -> tuple[int, str, Any]:
        response = await client.get(f"{URL}?{query}")
        body = response.json()
        if isinstance(body, dict):
            body.pop("request_id", None)
        return response.status_code, response.headers["content-type"], body

    queries = _plain_queries()
    assert sum(locations_endpoints._plain_query(q.encode()) is not None for q in queries) == 30 + 5
    for query in queries:
        plain = await answer(query)
        with monkeypatch.context() as m:
            m.setattr(locations_endpoints, "_plain_query", lambda _: None)
            assert plain == await answer(query), query
