"""Drive the sign-in flows like a browser or a phone would: our API over ASGI, the IdP over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.auth import AUTH, authorize_mobile, path_of, pkce_pair
from tests.support.fixtures_idp import MOBILE_REDIRECT


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class MobileStart:
    authorization_url: str
    state: str
    verifier: str


async def start_mobile(api: httpx.AsyncClient, provider: str) -> MobileStart:
    verifier, challenge = pkce_pair()
    r = await authorize_mobile(api, provider, redirect_uri=MOBILE_REDIRECT, challenge=challenge)
    assert r.status_code == 200, r.text
    return MobileStart(r.json()["authorization_url"], r.json()["state"], verifier)


async def consent(
    idp_http: httpx.AsyncClient, authorization_url: str, *, user: str, deny: bool = False
) -> str:
    """The person signs in at the provider; returns where the provider sends them back."""
    extra = "&consent=deny" if deny else ""
    r = await idp_http.get(f"{authorization_url}&user={user}{extra}")
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def mobile_sign_in(
    api: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str, *, user: str
) -> httpx.Response:
    """The whole mobile flow; returns the /token response."""
    start = await start_mobile(api, provider)
    back = query_of(await consent(idp_http, start.authorization_url, user=user))
    return await api.post(f"{AUTH}/{provider}/token", json={**back, "code_verifier": start.verifier})


async def web_start(browser: httpx.AsyncClient, provider: str, **params: str) -> str:
    r = await browser.get(f"{AUTH}/{provider}/authorize", params=params)
    assert r.status_code == 200, r.text
    return str(r.json()["authorization_url"])


async def web_sign_in(
    browser: httpx.AsyncClient, idp_http: httpx.AsyncClient, provider: str, *, user: str
) -> httpx.Response:
    """The whole web flow; returns our callback's response (a redirect to the front-end)."""
    authorization_url = await web_start(browser, provider)
    callback = await consent(idp_http, authorization_url, user=user)
    return await browser.get(path_of(callback))
