"""Google (OpenID Connect): endpoints come from the discovery document; the user is identified by
the ``sub`` of an ID token whose signature, issuer, audience, expiry and nonce we check ourselves."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from ecoeco.auth.providers.base import ExternalIdentity, Grant, Provider, with_query
from ecoeco.core.errors import ServiceUnavailable

# Google signs ID tokens with RS256; anything else is refused (RFC 8725 §3.1).
ID_TOKEN_ALGORITHMS = ["RS256"]
METADATA_TTL_S = 3600.0
CLOCK_SKEW_S = 30


class GoogleProvider(Provider):
    name = "google"
    supports_pkce = True

    def __init__(
        self, *, client_id: str, client_secret: str | None, redirect_uris: list[str], discovery_url: str
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, redirect_uris=redirect_uris)
        self.discovery_url = discovery_url
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: jwt.PyJWKSet | None = None

    async def _discover(self, http: httpx.AsyncClient) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._metadata_at > METADATA_TTL_S:
            metadata = self._json(await self._call(http, "GET", self.discovery_url))
            wanted = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not all(isinstance(metadata.get(k), str) for k in wanted):
                raise ServiceUnavailable(
                    "google's discovery document is incomplete.", code="idp-bad-response"
                )
            self._metadata, self._metadata_at, self._jwks = metadata, time.monotonic(), None
        return self._metadata

    async def issuer(self, http: httpx.AsyncClient) -> str:
        return str((await self._discover(http))["issuer"])

    async def requires_iss_parameter(self, http: httpx.AsyncClient) -> bool:
        return (await self._discover(http)).get("authorization_response_iss_parameter_supported") is True

    async def authorization_url(
        self,
        http: httpx.AsyncClient,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str | None,
        nonce: str,
    ) -> str:
        metadata = await self._discover(http)
        return with_query(
            metadata["authorization_endpoint"],
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid",
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256" if code_challenge else None,
            },
        )

    async def exchange(self, http: httpx.AsyncClient, grant: Grant) -> ExternalIdentity:
        metadata = await self._discover(http)
        tokens = await self._redeem_code(
            http,
            metadata["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "redirect_uri": grant.redirect_uri,
                "code": grant.code,
                "code_verifier": grant.code_verifier,
            },
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise ServiceUnavailable("google sent no ID token.", code="idp-bad-response")
        claims = await self._verify_id_token(http, metadata, id_token)
        if claims.get("nonce") != grant.nonce:
            raise ServiceUnavailable("google's ID token belongs to another sign-in.", code="idp-bad-response")
        return self._subject(claims.get("sub"))

    async def _signing_key(self, http: httpx.AsyncClient, metadata: dict[str, Any], kid: object) -> Any:
        for attempt in range(2):
            if self._jwks is None or attempt:  # an unknown kid means Google rotated: refetch once
                body = self._json(await self._call(http, "GET", metadata["jwks_uri"]))
                try:
                    self._jwks = jwt.PyJWKSet.from_dict(body)
                except jwt.PyJWKError as exc:
                    raise ServiceUnavailable(
                        "google's key set is unusable.", code="idp-bad-response"
                    ) from exc
            for key in self._jwks.keys:
                if key.key_id == kid:
                    return key.key
        raise ServiceUnavailable("google's ID token is signed with an unknown key.", code="idp-bad-response")

    async def _verify_id_token(
        self, http: httpx.AsyncClient, metadata: dict[str, Any], token: str
    ) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self._signing_key(http, metadata, kid)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=self.client_id,
                issuer=metadata["issuer"],
                leeway=CLOCK_SKEW_S,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.InvalidTokenError as exc:
            raise ServiceUnavailable(
                f"google's ID token is not valid: {exc}.", code="idp-bad-response"
            ) from exc
        return claims
