"""``CurrentUser``: the verified caller of a request, for every domain's endpoints.

Accepts ``Authorization: Bearer <access token>`` or the ``ecoeco_at`` cookie set by the web flow.
A cookie-authenticated state-changing request must also echo the CSRF token (``X-CSRF-Token``),
since browsers attach cookies to cross-site requests on their own.

The whole check is one dependency with no sub-dependencies: FastAPI's per-dependency bookkeeping
cost more than verifying a cached token. The bearer scheme is that dependency itself (so FastAPI
documents it); the cookie alternative is added to the same operations by :func:`document_security`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.security import APIKeyCookie, HTTPBearer

from ecoeco.auth.revocation import is_revoked
from ecoeco.auth.runtime import auth_runtime
from ecoeco.auth.tokens import Principal, csrf_matches
from ecoeco.core.errors import Forbidden, Unauthorized
from ecoeco.runtime.deps import get_backends

ACCESS_COOKIE = "ecoeco_at"
REFRESH_COOKIE = "ecoeco_rt"
CSRF_COOKIE = "ecoeco_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_principal(request: Request) -> Principal:
    backends = get_backends(request)
    runtime = auth_runtime(backends)
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Use 'Authorization: Bearer <access token>'.", code="invalid-authorization")
        principal = runtime.tokens.verify(token.strip())
    elif cookie := request.cookies.get(ACCESS_COOKIE):
        principal = replace(runtime.tokens.verify(cookie), via="cookie")
        secret = backends.settings.secret_key.get_secret_value()
        if request.method not in SAFE_METHODS and not csrf_matches(
            secret, principal.session_id, request.headers.get(CSRF_HEADER)
        ):
            raise Forbidden(
                f"Cookie-authenticated requests that change state need the {CSRF_HEADER} header.",
                code="csrf-failed",
            )
    else:
        raise Unauthorized()
    if await is_revoked(backends.cache, principal.session_id):
        raise Unauthorized("The session has been signed out.", code="token-revoked")
    return principal


class _AccessToken(HTTPBearer):
    """The bearer scheme as FastAPI documents it, answering with the verified caller."""

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return await current_principal(request)


_bearer = _AccessToken(
    auto_error=False, scheme_name="HTTPBearer", description="Access token from /auth/{provider}/token."
)
_cookie = APIKeyCookie(name=ACCESS_COOKIE, auto_error=False, description="Set by the web flow.")

CurrentUser = Annotated[Principal, Security(_bearer)]


def document_security(schema: dict[str, Any]) -> dict[str, Any]:
    """List the cookie next to the bearer token on every operation that takes ``CurrentUser``."""
    bearer: dict[str, list[str]] = {_bearer.scheme_name: []}
    cookie: dict[str, list[str]] = {_cookie.scheme_name: []}
    used = False
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and bearer in security and cookie not in security:
                security.append(cookie)
                used = True
    if used:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[_cookie.scheme_name] = jsonable_encoder(_cookie.model, by_alias=True, exclude_none=True)
    return schema


__all__ = ["CurrentUser", "Principal", "current_principal", "document_security"]
