"""Sign a fresh user in through the real ``dev`` provider flow, over the HTTP API only.

For any domain's tests::

    me = await sign_in(client)
    r = await client.get("/api/v1/users/me", headers=me.headers)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

AUTH = "/api/v1/auth"
DEV_APP_REDIRECT = "ecoeco://auth/callback"


@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    access_token: str
    refresh_token: str
    session_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def authorize_mobile(
    client: httpx.AsyncClient,
    provider: str,
    *,
    redirect_uri: str,
    challenge: str,
    headers: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    """``GET /auth/{provider}/authorize`` the way a phone starts signing in (PKCE S256)."""
    return await client.get(
        f"{AUTH}/{provider}/authorize",
        params={
            "client": "mobile",
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **params,
        },
        headers=headers,
    )


async def dev_authorization_response(
    client: httpx.AsyncClient, *, name: str, challenge: str
) -> dict[str, str]:
    """Walk the mobile flow up to the app's redirect: returns its query (code, state, iss)."""
    r = await authorize_mobile(client, "dev", redirect_uri=DEV_APP_REDIRECT, challenge=challenge)
    assert r.status_code == 200, r.text
    authorization_url = r.json()["authorization_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
    page = await client.get(path_of(authorization_url))
    assert page.status_code == 200, page.text
    consent = await client.post(
        f"{AUTH}/dev/consent",
        data={
            "client_id": query["client_id"],
            "redirect_uri": query["redirect_uri"],
            "state": query["state"],
            "code_challenge": query["code_challenge"],
            "name": name,
            "decision": "allow",
        },
    )
    assert consent.status_code == 303, consent.text
    assert consent.headers["location"].startswith(DEV_APP_REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}


async def sign_in(client: httpx.AsyncClient, *, name: str | None = None) -> SignedIn:
    """A new account (or the existing one of ``name``) signed in via the dev provider's mobile flow."""
    verifier, challenge = pkce_pair()
    back = await dev_authorization_response(
        client, name=name or f"user-{uuid.uuid4().hex[:12]}", challenge=challenge
    )
    r = await client.post(f"{AUTH}/dev/token", json={**back, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    body = r.json()
    import jwt  # only to read the session id the server put in the token; nothing is verified here

    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    return SignedIn(
        user_id=uuid.UUID(body["user_id"]),
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        session_id=uuid.UUID(claims["sid"]),
    )
