"""Hostile or broken sign-in attempts: each gets a precise 4xx (or 503 for a failing provider) and
signs nobody in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from ecoeco.core.clock import Clock
from ecoeco.settings import Settings
from tests.auth.flows import consent, mobile_sign_in, query_of, start_mobile, web_start
from tests.support.auth import AUTH, authorize_mobile, path_of, pkce_pair
from tests.support.fixtures_idp import MOBILE_REDIRECT, FakeIdP

PROVIDERS = ["kakao", "naver", "google"]


async def assert_nobody_signed_in(client: httpx.AsyncClient, idp_http: httpx.AsyncClient) -> None:
    """A fresh sign-in of the people used in these tests creates a new account: none was made before."""
    r = await mobile_sign_in(client, idp_http, "kakao", user="victim")
    assert r.status_code == 200, r.text
    assert r.json()["new_user"] is True


def problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


# --- state ------------------------------------------------------------------------------------


async def test_token_without_state_is_422_and_with_unknown_state_is_400(client: httpx.AsyncClient) -> None:
    verifier, _ = pkce_pair()
    r = await client.post(f"{AUTH}/kakao/token", json={"code": "c", "code_verifier": verifier})
    problem(r, 422, "validation-failed")
    r = await client.post(
        f"{AUTH}/kakao/token", json={"code": "c", "state": "made-up", "code_verifier": verifier}
    )
    problem(r, 400, "invalid-state")


async def test_state_is_single_use(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, fake_idp: FakeIdP
) -> None:
    start = await start_mobile(client, "kakao")
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    first = await client.post(f"{AUTH}/kakao/token", json={**back, "code_verifier": start.verifier})
    assert first.status_code == 200
    replay = await client.post(f"{AUTH}/kakao/token", json={**back, "code_verifier": start.verifier})
    problem(replay, 400, "invalid-state")


async def test_concurrent_use_of_one_state_signs_in_once(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    start = await start_mobile(client, "naver")
    back = query_of(await consent(idp_http, start.authorization_url, user="racer"))
    body = {**back, "code_verifier": start.verifier}
    results = await asyncio.gather(*(client.post(f"{AUTH}/naver/token", json=body) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [200, 400, 400, 400]


async def test_expired_state_is_refused(
    settings: Settings, client: httpx.AsyncClient, idp_http: httpx.AsyncClient, clock: Clock
) -> None:
    start = await start_mobile(client, "kakao")
    back = query_of(await consent(idp_http, start.authorization_url, user="slow"))
    clock.advance(settings.auth_state_ttl_s + 1)
    r = await client.post(f"{AUTH}/kakao/token", json={**back, "code_verifier": start.verifier})
    problem(r, 400, "invalid-state")


async def test_state_of_one_provider_is_refused_by_another(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    """IdP mix-up: a flow started with Kakao is finished at Naver's endpoint."""
    start = await start_mobile(client, "kakao")
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    r = await client.post(f"{AUTH}/naver/token", json={**back, "code_verifier": start.verifier})
    problem(r, 400, "provider-mismatch")
    await assert_nobody_signed_in(client, idp_http)


async def test_code_from_another_provider_is_refused(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    kakao = await start_mobile(client, "kakao")
    kakao_back = query_of(await consent(idp_http, kakao.authorization_url, user="victim"))
    naver = await start_mobile(client, "naver")
    r = await client.post(
        f"{AUTH}/naver/token",
        json={"code": kakao_back["code"], "state": naver.state, "code_verifier": naver.verifier},
    )
    problem(r, 400, "invalid-grant")
    await assert_nobody_signed_in(client, idp_http)


async def test_mobile_state_cannot_finish_a_web_flow(
    browser: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    start = await start_mobile(browser, "kakao")
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    r = await browser.get(f"{AUTH}/kakao/callback", params=back)
    problem(r, 400, "client-mismatch")


async def test_web_callback_from_another_browser_is_refused(
    app_client_pair: tuple[httpx.AsyncClient, httpx.AsyncClient], idp_http: httpx.AsyncClient
) -> None:
    """Login CSRF: an attacker's own authorization response, replayed in the victim's browser."""
    attacker, victim = app_client_pair
    url = await web_start(attacker, "kakao")
    callback = await consent(idp_http, url, user="attacker")
    r = await victim.get(path_of(callback))
    problem(r, 400, "state-not-bound")
    assert "ecoeco_at" not in victim.cookies


@pytest.fixture
async def app_client_pair(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as one,
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as two,
    ):
        yield one, two


async def test_web_callback_without_state_is_400(browser: httpx.AsyncClient) -> None:
    problem(await browser.get(f"{AUTH}/google/callback", params={"code": "x"}), 400, "invalid-state")


# --- PKCE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_pkce_verifier_mismatch_is_refused_before_the_provider_is_asked(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, fake_idp: FakeIdP, provider: str
) -> None:
    start = await start_mobile(client, provider)
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    other_verifier, _ = pkce_pair()
    r = await client.post(f"{AUTH}/{provider}/token", json={**back, "code_verifier": other_verifier})
    problem(r, 400, "pkce-mismatch")
    assert (provider, "token") not in fake_idp.calls
    await assert_nobody_signed_in(client, idp_http)


async def test_mobile_sign_in_requires_s256_pkce(client: httpx.AsyncClient) -> None:
    base = {"client": "mobile", "redirect_uri": MOBILE_REDIRECT}
    problem(await client.get(f"{AUTH}/kakao/authorize", params=base), 400, "pkce-required")
    _, challenge = pkce_pair()
    r = await client.get(f"{AUTH}/kakao/authorize", params={**base, "code_challenge": challenge})
    problem(r, 400, "pkce-method-required")
    r = await client.get(
        f"{AUTH}/kakao/authorize",
        params={**base, "code_challenge": challenge, "code_challenge_method": "plain"},
    )
    problem(r, 422, "validation-failed")


async def test_provider_without_pkce_still_sends_what_it_accepts(
    client: httpx.AsyncClient, fake_idp: FakeIdP
) -> None:
    """Naver lacks PKCE: the challenge stays with us. Kakao and Google get S256."""
    naver = await start_mobile(client, "naver")
    assert "code_challenge" not in query_of(naver.authorization_url)
    for provider in ("kakao", "google"):
        query = query_of((await start_mobile(client, provider)).authorization_url)
        assert query["code_challenge_method"] == "S256"


# --- redirect URIs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        "ecoeco://auth/callback/",
        "ECOECO://auth/callback",
        "ecoeco://auth/callback?x=1",
    ],
)
async def test_mobile_redirect_uri_must_match_exactly(client: httpx.AsyncClient, redirect_uri: str) -> None:
    _, challenge = pkce_pair()
    r = await authorize_mobile(client, "kakao", redirect_uri=redirect_uri, challenge=challenge)
    problem(r, 400, "redirect-uri-not-allowed")


@pytest.mark.parametrize(
    "return_to",
    ["https://evil.example/", "http://127.0.0.1:8000/../evil", "http://127.0.0.1:8000", "//evil.example/"],
)
async def test_web_return_url_must_be_on_the_allow_list(browser: httpx.AsyncClient, return_to: str) -> None:
    r = await browser.get(f"{AUTH}/google/authorize", params={"return_to": return_to})
    problem(r, 400, "redirect-uri-not-allowed")
    assert "ecoeco_oauth" not in browser.cookies


async def test_web_flow_cannot_choose_the_provider_redirect_uri(browser: httpx.AsyncClient) -> None:
    r = await browser.get(f"{AUTH}/kakao/authorize", params={"redirect_uri": "https://evil.example/cb"})
    problem(r, 400, "redirect-uri-not-allowed")


async def test_unknown_provider_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{AUTH}/facebook/authorize")
    problem(r, 404, "unknown-provider")
    assert r.json()["available"] == ["dev", "google", "kakao", "naver"]


# --- issuer (RFC 9207) and ID tokens ------------------------------------------------------------


async def test_authorization_response_from_another_issuer_is_refused(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, fake_idp: FakeIdP
) -> None:
    start = await start_mobile(client, "google")
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    assert back["iss"] == fake_idp.issuer("google")
    forged = {**back, "iss": fake_idp.issuer("kakao"), "code_verifier": start.verifier}
    problem(await client.post(f"{AUTH}/google/token", json=forged), 400, "issuer-mismatch")


async def test_google_response_without_iss_is_refused(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    """Google announces the iss parameter, so its absence means the response was tampered with."""
    start = await start_mobile(client, "google")
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    del back["iss"]
    r = await client.post(f"{AUTH}/google/token", json={**back, "code_verifier": start.verifier})
    problem(r, 400, "issuer-mismatch")


async def test_google_id_token_for_another_client_is_refused(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, fake_idp: FakeIdP
) -> None:
    fake_idp.google_id_token_audience = "someone-elses-client-id"
    r = await mobile_sign_in(client, idp_http, "google", user="victim")
    problem(r, 503, "idp-bad-response")


# --- the provider misbehaves ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("endpoint", "fault", "code"),
    [
        ("token", "500", "idp-unavailable"),
        ("token", "timeout", "idp-timeout"),
        ("token", "garbage", "idp-bad-response"),
    ],
)
async def test_failing_provider_is_503_for_mobile(
    client: httpx.AsyncClient,
    idp_http: httpx.AsyncClient,
    fake_idp: FakeIdP,
    provider: str,
    endpoint: str,
    fault: str,
    code: str,
) -> None:
    fake_idp.fail(provider, endpoint, fault)  # type: ignore[arg-type]
    r = await mobile_sign_in(client, idp_http, provider, user="victim")
    problem(r, 503, code)
    assert r.headers["retry-after"]
    fake_idp.faults.clear()
    await assert_nobody_signed_in(client, idp_http)


@pytest.mark.parametrize("provider", ["kakao", "naver"])
async def test_failing_user_info_is_503(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, fake_idp: FakeIdP, provider: str
) -> None:
    fake_idp.fail(provider, "userinfo", "500")
    problem(await mobile_sign_in(client, idp_http, provider, user="victim"), 503, "idp-unavailable")


async def test_failing_google_discovery_is_503_at_authorize(
    client: httpx.AsyncClient, fake_idp: FakeIdP
) -> None:
    fake_idp.fail("google", "discovery", "500")
    _, challenge = pkce_pair()
    r = await authorize_mobile(client, "google", redirect_uri=MOBILE_REDIRECT, challenge=challenge)
    problem(r, 503, "idp-unavailable")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_failing_provider_sends_the_browser_back_with_an_error(
    browser: httpx.AsyncClient, idp_http: httpx.AsyncClient, fake_idp: FakeIdP, provider: str
) -> None:
    url = await web_start(browser, provider)
    fake_idp.fail(provider, "token", "500")
    r = await browser.get(path_of(await consent(idp_http, url, user="victim")))
    assert r.status_code == 303
    assert query_of(r.headers["location"]) == {"auth_error": "idp-unavailable"}
    assert "ecoeco_at" not in browser.cookies


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_bad_code_is_invalid_grant(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str
) -> None:
    start = await start_mobile(client, provider)
    back = query_of(await consent(idp_http, start.authorization_url, user="victim"))
    r = await client.post(
        f"{AUTH}/{provider}/token", json={**back, "code": "not-a-real-code", "code_verifier": start.verifier}
    )
    problem(r, 400, "invalid-grant")


async def test_unknown_fields_in_token_request_are_refused(client: httpx.AsyncClient) -> None:
    verifier, _ = pkce_pair()
    r = await client.post(
        f"{AUTH}/kakao/token", json={"code": "c", "state": "s", "code_verifier": verifier, "user_id": "x"}
    )
    problem(r, 422, "validation-failed")


async def test_oversized_token_request_is_413(settings: Settings, client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{AUTH}/kakao/token",
        content=b"{" + b" " * (settings.max_body_bytes + 1) + b"}",
        headers={"content-type": "application/json"},
    )
    problem(r, 413, "payload-too-large")
