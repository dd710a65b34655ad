"""The ``dev`` provider: a tiny identity provider built into the app for local use and tests.

Its consent page (``/auth/dev/consent``) issues single-use codes the way a real provider does, and
its "token endpoint" redeems them with the same checks (redirect URI, PKCE). Only the transport
differs: codes live in our cache instead of behind HTTP. Never enabled in production.
"""

from __future__ import annotations

import json
import secrets

import httpx

from ecoeco.auth.providers.base import (
    ExternalIdentity,
    Grant,
    Provider,
    invalid_grant,
    pkce_matches,
    with_query,
)
from ecoeco.cache import Cache

CLIENT_ID = "ecoeco-dev"
CODE_TTL_S = 120


class DevProvider(Provider):
    name = "dev"
    supports_pkce = True

    def __init__(self, *, cache: Cache, public_url: str, consent_path: str, redirect_uris: list[str]) -> None:
        super().__init__(client_id=CLIENT_ID, client_secret=None, redirect_uris=redirect_uris)
        self.cache = cache
        self.public_url = public_url.rstrip("/")
        self.consent_path = consent_path

    async def issuer(self, http: httpx.AsyncClient) -> str:
        return self.public_url + self.consent_path

    async def requires_iss_parameter(self, http: httpx.AsyncClient) -> bool:
        return True  # our consent page always sends it

    async def authorization_url(
        self,
        http: httpx.AsyncClient,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str | None,
        nonce: str,
    ) -> str:
        return with_query(
            self.public_url + self.consent_path,
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            },
        )

    async def grant(self, *, subject: str, redirect_uri: str, code_challenge: str) -> str:
        """Issue a code after consent; bound to the redirect URI and the PKCE challenge."""
        code = secrets.token_urlsafe(24)
        record = {"subject": subject, "redirect_uri": redirect_uri, "code_challenge": code_challenge}
        await self.cache.set(f"auth:dev-code:{code}", json.dumps(record), ttl=CODE_TTL_S)
        return code

    async def exchange(self, http: httpx.AsyncClient, grant: Grant) -> ExternalIdentity:
        raw = await self.cache.pop(f"auth:dev-code:{grant.code}")
        if raw is None:
            raise invalid_grant()
        record = json.loads(raw)
        if record["redirect_uri"] != grant.redirect_uri:
            raise invalid_grant("The authorization code was issued for another redirect URI.")
        if grant.code_verifier is None or not pkce_matches(grant.code_verifier, record["code_challenge"]):
            raise invalid_grant("The PKCE code verifier does not match the code challenge.")
        return self._subject(record["subject"])
