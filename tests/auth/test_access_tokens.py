"""RFC 8725 checks on access tokens: every forged, stale or misdirected token is a 401."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecoeco.auth.keys import KeyRing, SigningKey, prune_keys, write_new_key
from ecoeco.settings import Settings
from tests.support.auth import AUTH, SignedIn, sign_in

ME = "/api/v1/users/me"


def keys_dir(settings: Settings) -> Path:
    return settings.auth_keys_dir or settings.data_dir / "auth-keys"


def current_key(settings: Settings) -> SigningKey:
    return KeyRing.load(keys_dir(settings), generate_if_empty=False).current


def claims_of(me: SignedIn) -> dict[str, Any]:
    return dict(jwt.decode(me.access_token, options={"verify_signature": False}))


def forge(
    settings: Settings,
    me: SignedIn,
    *,
    key: Any = None,
    headers: dict[str, Any] | None = None,
    **changes: Any,
) -> str:
    """Re-sign the caller's own claims with ``changes`` applied (None removes a claim)."""
    signing = current_key(settings)
    claims = {k: v for k, v in {**claims_of(me), **changes}.items() if v is not None}
    head = {"kid": signing.kid, "typ": "at+jwt", **(headers or {})}
    return jwt.encode(claims, key or signing.private, algorithm="EdDSA", headers=head)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(client: httpx.AsyncClient, token: str, code: str = "invalid-token") -> None:
    r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
async def me(client: httpx.AsyncClient) -> SignedIn:
    return await sign_in(client)


async def test_genuine_token_is_accepted_and_well_formed(
    client: httpx.AsyncClient, me: SignedIn, settings: Settings
) -> None:
    assert (await client.get(ME, headers=me.headers)).status_code == 200
    header = jwt.get_unverified_header(me.access_token)
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    assert header["kid"] == current_key(settings).kid
    claims = claims_of(me)
    assert {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "sid"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == settings.auth_access_ttl_s
    assert claims["sub"] == str(me.user_id)


async def test_alg_none_is_refused(client: httpx.AsyncClient, me: SignedIn) -> None:
    head = b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    body = b64(json.dumps(claims_of(me)).encode())
    await refused(client, f"{head}.{body}.")


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, me: SignedIn, settings: Settings
) -> None:
    """The classic key-confusion attack: the public key (from our JWKS) used as an HMAC secret."""
    key = current_key(settings)
    public_pem = key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}).encode())
    body = b64(json.dumps(claims_of(me)).encode())
    import hashlib
    import hmac

    signature = b64(hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    await refused(client, f"{head}.{body}.{signature}")


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-service"},
        {"iss": "https://evil.example"},
        {"jti": None},
        {"sid": None},
        {"exp": None},
        {"sub": "not-a-uuid"},
    ],
    ids=["wrong-aud", "wrong-iss", "no-jti", "no-sid", "no-exp", "bad-sub"],
)
async def test_wrong_or_missing_claims_are_refused(
    client: httpx.AsyncClient, me: SignedIn, settings: Settings, changes: dict[str, Any]
) -> None:
    await refused(client, forge(settings, me, **changes))


async def test_wrong_typ_is_refused(client: httpx.AsyncClient, me: SignedIn, settings: Settings) -> None:
    await refused(client, forge(settings, me, headers={"typ": "JWT"}))


async def test_expired_token_is_refused(client: httpx.AsyncClient, me: SignedIn, settings: Settings) -> None:
    now = int(time.time())
    await refused(client, forge(settings, me, iat=now - 3600, nbf=now - 3600, exp=now - 60), "token-expired")


async def test_not_yet_valid_token_is_refused(
    client: httpx.AsyncClient, me: SignedIn, settings: Settings
) -> None:
    now = int(time.time())
    await refused(client, forge(settings, me, nbf=now + 3600, exp=now + 7200), "token-not-yet-valid")


async def test_tampered_payload_is_refused(client: httpx.AsyncClient, me: SignedIn) -> None:
    head, _, signature = me.access_token.split(".")
    other = b64(json.dumps({**claims_of(me), "sub": "00000000-0000-0000-0000-000000000001"}).encode())
    await refused(client, f"{head}.{other}.{signature}")


async def test_tampered_signature_is_refused(client: httpx.AsyncClient, me: SignedIn) -> None:
    head, body, signature = me.access_token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    await refused(client, f"{head}.{body}.{flipped}")


async def test_unknown_kid_is_refused(client: httpx.AsyncClient, me: SignedIn, settings: Settings) -> None:
    await refused(client, forge(settings, me, headers={"kid": "no-such-key"}))


async def test_token_signed_by_a_stranger_key_under_our_kid_is_refused(
    client: httpx.AsyncClient, me: SignedIn, settings: Settings
) -> None:
    await refused(client, forge(settings, me, key=Ed25519PrivateKey.generate()))


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt", "Token abc"])
async def test_malformed_authorization_header_is_refused(client: httpx.AsyncClient, header: str) -> None:
    r = await client.get(ME, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json()["code"] in {"invalid-authorization", "invalid-token"}


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get(ME)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


async def test_jwks_lets_another_service_verify_our_tokens(
    client: httpx.AsyncClient, me: SignedIn, settings: Settings
) -> None:
    r = await client.get(f"{AUTH}/jwks")
    assert r.status_code == 200
    assert "max-age" in r.headers["cache-control"]
    (jwk,) = r.json()["keys"]
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert "d" not in jwk  # never the private part
    key = jwt.PyJWK(jwk)
    claims = jwt.decode(
        me.access_token,
        key.key,
        algorithms=["EdDSA"],
        audience=settings.auth_audience,
        issuer=claims_of(me)["iss"],
    )
    assert claims["sub"] == str(me.user_id)


async def test_key_rotation_keeps_old_tokens_valid_until_the_old_key_is_removed(
    settings: Settings, client: httpx.AsyncClient, me: SignedIn
) -> None:
    from asgi_lifespan import LifespanManager

    from ecoeco.app import create_app

    old_kid = current_key(settings).kid
    write_new_key(keys_dir(settings))

    async def restarted() -> tuple[SignedIn, int, dict[str, Any], int]:
        application = create_app(settings)
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                fresh = await sign_in(c)
                old_status = (await c.get(ME, headers=me.headers)).status_code
                keys = (await c.get(f"{AUTH}/jwks")).json()
                new_status = (await c.get(ME, headers=fresh.headers)).status_code
        return fresh, old_status, keys, new_status

    fresh, old_status, jwks, new_status = await restarted()
    assert jwt.get_unverified_header(fresh.access_token)["kid"] != old_kid
    assert old_status == 200
    assert new_status == 200
    assert [k["kid"] for k in jwks["keys"]][1] == old_kid
    assert len(jwks["keys"]) == 2

    prune_keys(keys_dir(settings), keep=1)
    _, old_status, jwks, _ = await restarted()
    assert old_status == 401
    assert old_kid not in [k["kid"] for k in jwks["keys"]]
