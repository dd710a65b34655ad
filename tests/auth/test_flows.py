"""Full sign-in flows per provider against the fake IdPs, web and mobile, on both backends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.auth.flows import consent, mobile_sign_in, query_of, start_mobile, web_sign_in, web_start
from tests.support.auth import AUTH, authorize_mobile, path_of, pkce_pair
from tests.support.fixtures_idp import MOBILE_REDIRECT

PROVIDERS = ["kakao", "naver", "google"]
ME = "/api/v1/users/me"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mobile_flow_signs_in_refreshes_and_logs_out(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str
) -> None:
    r = await mobile_sign_in(client, idp_http, provider, user="minji")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    tokens = r.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["new_user"] is True
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    me = await client.get(ME, headers=bearer)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == tokens["user_id"]
    assert me.json()["providers"] == [provider]
    assert me.json()["nickname"]

    # The same person signing in again lands in the same account.
    again = await mobile_sign_in(client, idp_http, provider, user="minji")
    assert again.json()["user_id"] == tokens["user_id"]
    assert again.json()["new_user"] is False

    rotated = await client.post(f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != tokens["refresh_token"]
    new_bearer = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    assert (await client.get(ME, headers=new_bearer)).status_code == 200

    out = await client.post(f"{AUTH}/logout", headers=new_bearer)
    assert out.status_code == 204
    for headers in (bearer, new_bearer):  # every access token of the session is refused at once
        refused = await client.get(ME, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "token-revoked"
    gone = await client.post(f"{AUTH}/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
    assert gone.status_code == 401
    assert gone.json()["code"] == "session-revoked"
    # The other session of the same person is untouched.
    other = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await client.get(ME, headers=other)).status_code == 200


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_web_flow_sets_cookies_and_needs_csrf_for_changes(
    browser: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str
) -> None:
    r = await web_sign_in(browser, idp_http, provider, user="jisoo")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "http://127.0.0.1:8000/"
    set_cookies = r.headers.get_list("set-cookie")
    for name in ("ecoeco_at", "ecoeco_rt"):
        cookie = next(c for c in set_cookies if c.startswith(name + "="))
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
        assert "SameSite=" in cookie
    csrf = browser.cookies["ecoeco_csrf"]

    me = await browser.get(ME)
    assert me.status_code == 200, me.text
    assert me.json()["providers"] == [provider]

    blocked = await browser.patch(ME, json={"nickname": "새이름"})
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "csrf-failed"
    assert (await browser.get(ME)).json()["nickname"] != "새이름"
    forged = await browser.patch(ME, json={"nickname": "새이름"}, headers={"X-CSRF-Token": "x" * 43})
    assert forged.status_code == 403

    changed = await browser.patch(ME, json={"nickname": "새이름"}, headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200, changed.text
    assert changed.json()["nickname"] == "새이름"

    no_csrf = await browser.post(f"{AUTH}/refresh")
    assert no_csrf.status_code == 403
    refreshed = await browser.post(f"{AUTH}/refresh", headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200, refreshed.text
    assert (await browser.get(ME)).status_code == 200

    out = await browser.post(f"{AUTH}/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert "ecoeco_at" not in browser.cookies
    assert (await browser.get(ME)).status_code == 401


@pytest.mark.settings(auth_web_return_urls=["https://app.ecoeco.test/", "https://app.ecoeco.test/welcome"])
async def test_web_flow_lands_on_the_requested_allowed_front_end(
    browser: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    url = await web_start(browser, "kakao", return_to="https://app.ecoeco.test/welcome")
    back = await browser.get(path_of(await consent(idp_http, url, user="a")))
    assert back.status_code == 303
    assert back.headers["location"] == "https://app.ecoeco.test/welcome"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_denied_consent_returns_to_front_end_with_error_and_signs_nobody_in(
    browser: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str
) -> None:
    url = await web_start(browser, provider)
    back = await browser.get(path_of(await consent(idp_http, url, user="b", deny=True)))
    assert back.status_code == 303
    assert query_of(back.headers["location"]) == {"auth_error": "access_denied"}
    assert "ecoeco_at" not in browser.cookies
    assert (await browser.get(ME)).status_code == 401


async def test_mobile_denied_consent_never_reaches_the_token_endpoint(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    start = await start_mobile(client, "kakao")
    back = query_of(await consent(idp_http, start.authorization_url, user="c", deny=True))
    assert back["error"] == "access_denied"
    # The app gives up; the state it holds cannot be traded for anything.
    r = await client.post(
        f"{AUTH}/kakao/token", json={"code": "none", "state": back["state"], "code_verifier": start.verifier}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid-grant"


async def _consented_link(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str, *, bearer: str, user: str
) -> tuple[dict[str, str], str]:
    """Start linking ``provider`` to the signed-in account and consent: (the provider's answer, verifier)."""
    verifier, challenge = pkce_pair()
    r = await authorize_mobile(
        client,
        provider,
        redirect_uri=MOBILE_REDIRECT,
        challenge=challenge,
        headers={"Authorization": f"Bearer {bearer}"},
        link="true",
    )
    assert r.status_code == 200, r.text
    return query_of(await consent(idp_http, r.json()["authorization_url"], user=user)), verifier


async def _link(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str, *, bearer: str, user: str
) -> httpx.Response:
    back, verifier = await _consented_link(client, idp_http, provider, bearer=bearer, user=user)
    return await client.post(f"{AUTH}/{provider}/token", json={**back, "code_verifier": verifier})


async def test_a_second_provider_links_to_the_signed_in_account(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    owner = (await mobile_sign_in(client, idp_http, "naver", user="linker")).json()
    linked = await _link(client, idp_http, "google", bearer=owner["access_token"], user="linker-g")
    assert linked.status_code == 200, linked.text
    assert linked.json()["user_id"] == owner["user_id"]
    assert linked.json()["new_user"] is False
    me = await client.get(ME, headers={"Authorization": f"Bearer {linked.json()['access_token']}"})
    assert me.json()["providers"] == ["naver", "google"]
    # Signing in with the linked Google account alone now reaches the same account.
    again = await mobile_sign_in(client, idp_http, "google", user="linker-g")
    assert again.json()["user_id"] == owner["user_id"]


async def test_an_identity_of_another_account_cannot_be_linked(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    other = (await mobile_sign_in(client, idp_http, "kakao", user="taken")).json()
    me = (await mobile_sign_in(client, idp_http, "naver", user="thief")).json()
    r = await _link(client, idp_http, "kakao", bearer=me["access_token"], user="taken")
    assert r.status_code == 409
    assert r.json()["code"] == "identity-linked-elsewhere"
    mine = await client.get(ME, headers={"Authorization": f"Bearer {me['access_token']}"})
    assert mine.json()["providers"] == ["naver"]
    theirs = await client.get(ME, headers={"Authorization": f"Bearer {other['access_token']}"})
    assert theirs.json()["providers"] == ["kakao"]


async def test_linking_to_an_account_erased_meanwhile_is_refused(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    me = (await mobile_sign_in(client, idp_http, "naver", user="leaver")).json()
    bearer = me["access_token"]
    back, verifier = await _consented_link(client, idp_http, "google", bearer=bearer, user="leaver-g")
    erased = await client.delete(ME, headers={"Authorization": f"Bearer {bearer}"})
    assert erased.status_code == 204
    r = await client.post(f"{AUTH}/google/token", json={**back, "code_verifier": verifier})
    assert r.status_code == 401
    assert r.json()["code"] == "account-deleted"
    # Nothing was linked: that Google account still has no account of its own.
    assert (await mobile_sign_in(client, idp_http, "google", user="leaver-g")).json()["new_user"] is True


async def test_concurrent_first_sign_ins_of_one_person_make_one_account(
    client: httpx.AsyncClient, idp_http: httpx.AsyncClient
) -> None:
    starts = [await start_mobile(client, "kakao") for _ in range(3)]
    answers = [query_of(await consent(idp_http, s.authorization_url, user="twin")) for s in starts]
    results = await asyncio.gather(
        *(
            client.post(f"{AUTH}/kakao/token", json={**back, "code_verifier": start.verifier})
            for start, back in zip(starts, answers, strict=True)
        )
    )
    assert [r.status_code for r in results] == [200, 200, 200], [r.text for r in results]
    assert len({r.json()["user_id"] for r in results}) == 1
    assert sorted(r.json()["new_user"] for r in results) == [False, False, True]
    me = await client.get(ME, headers={"Authorization": f"Bearer {results[0].json()['access_token']}"})
    assert me.json()["providers"] == ["kakao"]


async def test_linking_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{AUTH}/kakao/authorize", params={"link": "true"})
    assert r.status_code == 401
