"""Kakao Login (REST API): kauth host for authorize/token, kapi host for the user id. Accepts PKCE."""

from __future__ import annotations

import httpx

from ecoeco.auth.providers.base import ExternalIdentity, Grant, HostedProvider, with_query


class KakaoProvider(HostedProvider):
    name = "kakao"
    supports_pkce = True

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
            f"{self.auth_url}/oauth/authorize",
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256" if code_challenge else None,
            },
        )

    async def exchange(self, http: httpx.AsyncClient, grant: Grant) -> ExternalIdentity:
        tokens = await self._redeem_code(
            http,
            f"{self.auth_url}/oauth/token",
            {
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "redirect_uri": grant.redirect_uri,
                "code": grant.code,
                "code_verifier": grant.code_verifier,
            },
        )
        profile = await self._get_profile(http, f"{self.api_url}/v2/user/me", tokens["access_token"])
        return self._subject(profile.get("id"))
