"""Naver Login: nid host for authorize/token, openapi host for the profile. No PKCE support, so the
server holds the flow's secrets itself; token errors arrive with status 200."""

from __future__ import annotations

from typing import Any

import httpx

from ecoeco.auth.providers.base import ExternalIdentity, Grant, HostedProvider, invalid_grant, with_query
from ecoeco.core.errors import ProblemError


class NaverProvider(HostedProvider):
    name = "naver"
    supports_pkce = False

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
            f"{self.auth_url}/oauth2.0/authorize",
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            },
        )

    def _token_error(self, body: dict[str, Any]) -> ProblemError:
        # Naver answers an unknown or reused code with invalid_request; every other parameter is ours.
        if body.get("error") == "invalid_request":
            return invalid_grant()
        return super()._token_error(body)

    async def exchange(self, http: httpx.AsyncClient, grant: Grant) -> ExternalIdentity:
        tokens = await self._redeem_code(
            http,
            f"{self.auth_url}/oauth2.0/token",
            {
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "code": grant.code,
                "state": grant.state,
            },
        )
        profile = await self._get_profile(http, f"{self.api_url}/v1/nid/me", tokens["access_token"])
        response = profile.get("response")
        if profile.get("resultcode") != "00" or not isinstance(response, dict):
            return self._subject(None)
        return self._subject(response.get("id"))
