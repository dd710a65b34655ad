"""What every sign-in provider adapter offers, and the HTTP plumbing they share.

An adapter knows one identity provider's authorize URL, token exchange and how to turn the result
into a stable subject id. Failures of the provider become precise problems: a bad code is the
client's 400; an unreachable, slow or confused provider is our 503.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from ecoeco.core.errors import ProblemError, ServiceUnavailable


@dataclass(frozen=True)
class ExternalIdentity:
    provider: str
    subject: str


@dataclass(frozen=True)
class Grant:
    """What the client brought back from the provider, plus what we kept for this flow."""

    code: str
    redirect_uri: str
    state: str
    code_verifier: str | None
    nonce: str


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def pkce_matches(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(s256(verifier), challenge)


def with_query(url: str, params: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def invalid_grant(
    detail: str = "The authorization code is invalid, expired or was issued elsewhere.",
) -> ProblemError:
    return ProblemError(detail, code="invalid-grant")


class Provider(ABC):
    name: str
    supports_pkce: bool = False

    def __init__(self, *, client_id: str, client_secret: str | None, redirect_uris: list[str]) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        # Redirect URIs of the mobile apps registered at this provider (exact match).
        self.mobile_redirect_uris = frozenset(redirect_uris)

    @abstractmethod
    async def issuer(self, http: httpx.AsyncClient) -> str:
        """The provider's issuer identifier, compared with an ``iss`` authorization-response parameter."""

    async def requires_iss_parameter(self, http: httpx.AsyncClient) -> bool:
        """RFC 9207: providers that announce the ``iss`` response parameter must send it."""
        return False

    @abstractmethod
    async def authorization_url(
        self,
        http: httpx.AsyncClient,
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str | None,
        nonce: str,
    ) -> str: ...

    @abstractmethod
    async def exchange(self, http: httpx.AsyncClient, grant: Grant) -> ExternalIdentity: ...

    # --- shared HTTP plumbing -------------------------------------------------------------------

    async def _call(self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(f"{self.name} did not answer in time.", code="idp-timeout") from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{self.name} is unreachable.", code="idp-unavailable") from exc
        if response.status_code >= 500:
            raise ServiceUnavailable(f"{self.name} failed ({response.status_code}).", code="idp-unavailable")
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ServiceUnavailable(f"{self.name} sent an unreadable answer.", code="idp-bad-response")
        return body

    def _token_error(self, body: dict[str, Any]) -> ProblemError:
        error = str(body.get("error", "unknown"))
        if error == "invalid_grant":
            return invalid_grant()
        if error in {"invalid_client", "unauthorized_client"}:
            # Our own credentials were refused: nothing the caller can fix.
            return ServiceUnavailable(
                f"{self.name} refused our client credentials.", code="idp-rejected-client"
            )
        return ProblemError(f"{self.name} refused the sign-in ({error}).", code="idp-error", idp_error=error)

    async def _redeem_code(
        self, http: httpx.AsyncClient, url: str, form: dict[str, str | None]
    ) -> dict[str, Any]:
        """POST the token request (RFC 6749 §4.1.3) and return the successful response body."""
        data = {k: v for k, v in form.items() if v is not None}
        response = await self._call(http, "POST", url, data=data, headers={"Accept": "application/json"})
        body = self._json(response)
        # Some providers (Naver) report errors with a 200 status; the body decides.
        if response.status_code != 200 or "error" in body:
            raise self._token_error(body)
        if not isinstance(body.get("access_token"), str):
            raise ServiceUnavailable(f"{self.name} sent no access token.", code="idp-bad-response")
        return body

    async def _get_profile(self, http: httpx.AsyncClient, url: str, access_token: str) -> dict[str, Any]:
        response = await self._call(http, "GET", url, headers={"Authorization": f"Bearer {access_token}"})
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"{self.name} refused its own token ({response.status_code}).", code="idp-bad-response"
            )
        return self._json(response)

    def _subject(self, value: object) -> ExternalIdentity:
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value):
            raise ServiceUnavailable(f"{self.name} sent no user id.", code="idp-bad-response")
        subject = str(value)
        if len(subject) > 255:
            raise ServiceUnavailable(f"{self.name} sent an oversized user id.", code="idp-bad-response")
        return ExternalIdentity(provider=self.name, subject=subject)


class HostedProvider(Provider):
    """A provider with fixed endpoints on an authorization host and an API host."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None,
        redirect_uris: list[str],
        auth_url: str,
        api_url: str,
    ) -> None:
        super().__init__(client_id=client_id, client_secret=client_secret, redirect_uris=redirect_uris)
        self.auth_url = auth_url.rstrip("/")
        self.api_url = api_url.rstrip("/")

    async def issuer(self, http: httpx.AsyncClient) -> str:
        return self.auth_url
