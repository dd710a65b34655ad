"""Fake identity providers: one real HTTP server on 127.0.0.1 speaking Kakao's, Naver's and Google's
authorize / token / user-info protocols (Google: discovery, JWKS and RS256-signed ID tokens).

The "person at the provider" is played by query parameters a test appends to the authorization
URL (``user=alice``, ``consent=deny``) — what a human would type into the provider's login page.
Failures of the provider itself are switched on per endpoint with :meth:`FakeIdP.fail`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import SecretStr

from ecoeco.settings import Settings
from tests.support.services import free_port
from tests.support.waiting import eventually_sync

PROVIDERS = ("kakao", "naver", "google")
MOBILE_REDIRECT = "ecoeco://auth/callback"
Fault = Literal["500", "timeout", "garbage"]
# Longer than the app's IdP timeout in tests (see idp_settings), bounded so the server stays responsive.
SLOW_ANSWER_S = 3.0


@dataclass
class IssuedCode:
    provider: str
    client_id: str
    redirect_uri: str
    user: str
    challenge: str | None
    nonce: str | None


@dataclass
class FakeIdP:
    base_url: str = ""
    public_url: str = "http://127.0.0.1:8000"
    codes: dict[str, IssuedCode] = field(default_factory=dict)
    access_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    signing_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = "fake-google-1"
    # Set to mint Google ID tokens for another client (an ID token substitution attempt).
    google_id_token_audience: str | None = None

    def client_id(self, provider: str) -> str:
        return f"{provider}-client-id"

    def client_secret(self, provider: str) -> str:
        return f"{provider}-client-secret-0123456789"

    def issuer(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    def redirect_uris(self, provider: str) -> set[str]:
        # What the app's developers registered in each provider's console.
        return {f"{self.public_url}/api/v1/auth/{provider}/callback", MOBILE_REDIRECT}

    def subject(self, provider: str, user: str) -> str:
        digest = int.from_bytes(hashlib.sha256(f"{provider}:{user}".encode()).digest()[:6], "big")
        return str(digest) if provider != "naver" else f"nv-{digest:x}"

    def fail(self, provider: str, endpoint: str, fault: Fault) -> None:
        self.faults[(provider, endpoint)] = fault

    def reset(self) -> None:
        self.codes.clear()
        self.access_tokens.clear()
        self.faults.clear()
        self.calls.clear()
        self.google_id_token_audience = None

    def settings_for(self, settings: Settings) -> Settings:
        update: dict[str, Any] = {"auth_idp_timeout_s": 1.0, "public_url": self.public_url}
        for p in PROVIDERS:
            update[f"auth_{p}_client_id"] = self.client_id(p)
            update[f"auth_{p}_client_secret"] = SecretStr(self.client_secret(p))
            update[f"auth_{p}_redirect_uris"] = [MOBILE_REDIRECT]
        for p in ("kakao", "naver"):
            update[f"auth_{p}_auth_url"] = self.issuer(p)
            update[f"auth_{p}_api_url"] = self.issuer(p)
        update["auth_google_discovery_url"] = f"{self.issuer('google')}/.well-known/openid-configuration"
        return settings.model_copy(update=update)

    def id_token(self, code: IssuedCode, *, audience: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer("google"),
            "aud": audience or code.client_id,
            "sub": self.subject("google", code.user),
            "iat": now,
            "exp": now + 3600,
            "nonce": code.nonce,
        }
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _jwk(idp: FakeIdP) -> dict[str, Any]:
    numbers = idp.signing_key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {
        "kty": "RSA",
        "n": b64(numbers.n),
        "e": b64(numbers.e),
        "kid": idp.kid,
        "alg": "RS256",
        "use": "sig",
    }


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def build_app(idp: FakeIdP) -> FastAPI:
    app = FastAPI()

    async def fault(provider: str, endpoint: str) -> Response | None:
        idp.calls.append((provider, endpoint))
        chosen = idp.faults.get((provider, endpoint))
        if chosen == "timeout":
            await asyncio.sleep(SLOW_ANSWER_S)
        if chosen in ("500", "timeout"):
            return PlainTextResponse("internal error", status_code=500)
        if chosen == "garbage":
            return PlainTextResponse("<html>maintenance</html>", status_code=200)
        return None

    def authorize(provider: str, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != idp.client_id(provider) or q.get("redirect_uri") not in idp.redirect_uris(
            provider
        ):
            # Real providers show an error page and never redirect to an unregistered URI.
            return PlainTextResponse("invalid client or redirect_uri", status_code=400)
        redirect, state = q["redirect_uri"], q.get("state", "")
        extra = {"iss": idp.issuer(provider)} if provider == "google" else {}
        if q.get("consent") == "deny":
            params = {"error": "access_denied", "state": state, **extra}
        else:
            code = secrets.token_urlsafe(16)
            idp.codes[code] = IssuedCode(
                provider=provider,
                client_id=q["client_id"],
                redirect_uri=redirect,
                user=q.get("user", "someone"),
                challenge=q.get("code_challenge"),
                nonce=q.get("nonce"),
            )
            params = {"code": code, "state": state, **extra}
        return RedirectResponse(f"{redirect}?{urlencode(params)}", status_code=302)

    def redeem(provider: str, form: dict[str, str]) -> IssuedCode | None:
        code = idp.codes.pop(form.get("code", ""), None)  # single use, like the real thing
        if code is None or code.provider != provider:
            return None
        if form.get("client_id") != code.client_id or form.get("client_secret") != idp.client_secret(
            provider
        ):
            return None
        if provider != "naver" and form.get("redirect_uri") != code.redirect_uri:
            return None
        if code.challenge is not None and _s256(form.get("code_verifier", "")) != code.challenge:
            return None
        return code

    def access_token(provider: str, code: IssuedCode) -> str:
        token = secrets.token_urlsafe(24)
        idp.access_tokens[token] = (provider, code.user)
        return token

    def bearer_user(provider: str, request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        owner = idp.access_tokens.get(token)
        return owner[1] if owner and owner[0] == provider else None

    # --- Kakao -----------------------------------------------------------------------------------
    @app.get("/kakao/oauth/authorize")
    async def kakao_authorize(request: Request) -> Response:
        return authorize("kakao", request)

    @app.post("/kakao/oauth/token")
    async def kakao_token(request: Request) -> Response:
        if failed := await fault("kakao", "token"):
            return failed
        code = redeem("kakao", await _form(request))
        if code is None:
            body = {
                "error": "invalid_grant",
                "error_description": "authorization code not found",
                "error_code": "KOE320",
            }
            return JSONResponse(body, status_code=400)
        return JSONResponse(
            {"access_token": access_token("kakao", code), "token_type": "bearer", "expires_in": 21599}
        )

    @app.get("/kakao/v2/user/me")
    async def kakao_me(request: Request) -> Response:
        if failed := await fault("kakao", "userinfo"):
            return failed
        user = bearer_user("kakao", request)
        if user is None:
            return JSONResponse({"msg": "this access token does not exist", "code": -401}, status_code=401)
        return JSONResponse(
            {"id": int(idp.subject("kakao", user)), "kakao_account": {"profile": {"nickname": user}}}
        )

    # --- Naver: errors come back with status 200 ---------------------------------------------------
    @app.get("/naver/oauth2.0/authorize")
    async def naver_authorize(request: Request) -> Response:
        return authorize("naver", request)

    @app.post("/naver/oauth2.0/token")
    async def naver_token(request: Request) -> Response:
        if failed := await fault("naver", "token"):
            return failed
        code = redeem("naver", await _form(request))
        if code is None:
            return JSONResponse({"error": "invalid_request", "error_description": "no valid data in session"})
        return JSONResponse(
            {"access_token": access_token("naver", code), "token_type": "bearer", "expires_in": "3600"}
        )

    @app.get("/naver/v1/nid/me")
    async def naver_me(request: Request) -> Response:
        if failed := await fault("naver", "userinfo"):
            return failed
        user = bearer_user("naver", request)
        if user is None:
            return JSONResponse({"resultcode": "024", "message": "Authentication failed"}, status_code=401)
        response = {"id": idp.subject("naver", user), "nickname": user}
        return JSONResponse({"resultcode": "00", "message": "success", "response": response})

    # --- Google (OpenID Connect) --------------------------------------------------------------------
    @app.get("/google/.well-known/openid-configuration")
    async def google_discovery() -> Response:
        if failed := await fault("google", "discovery"):
            return failed
        base = idp.issuer("google")
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/oauth2/v3/certs",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "authorization_response_iss_parameter_supported": True,
            }
        )

    @app.get("/google/o/oauth2/v2/auth")
    async def google_authorize(request: Request) -> Response:
        return authorize("google", request)

    @app.post("/google/token")
    async def google_token(request: Request) -> Response:
        if failed := await fault("google", "token"):
            return failed
        code = redeem("google", await _form(request))
        if code is None:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Bad Request"}, status_code=400
            )
        id_token = idp.id_token(code, audience=idp.google_id_token_audience)
        return JSONResponse(
            {
                "access_token": access_token("google", code),
                "token_type": "Bearer",
                "expires_in": 3599,
                "id_token": id_token,
            }
        )

    @app.get("/google/oauth2/v3/certs")
    async def google_jwks() -> Response:
        return JSONResponse({"keys": [_jwk(idp)]})

    return app


@pytest.fixture(scope="session")
def fake_idp_server() -> Iterator[FakeIdP]:
    idp = FakeIdP()
    port = free_port()
    idp.base_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(build_app(idp), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fake-idp", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("the fake IdP server did not start")
        return server.started

    eventually_sync(started, within_s=20, every_s=0.01, what="the fake IdP server started")
    yield idp
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def fake_idp(fake_idp_server: FakeIdP) -> Iterator[FakeIdP]:
    fake_idp_server.reset()
    yield fake_idp_server
    fake_idp_server.reset()
