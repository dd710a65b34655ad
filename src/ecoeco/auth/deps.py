"""``CurrentUser``: the verified caller of a request, for every domain's endpoints.

Accepts ``Authorization: Bearer <access token>`` or the ``ecoeco_at`` cookie set by the web flow.
A cookie-authenticated state-changing request must also echo the CSRF token (``X-CSRF-Token``),
since browsers attach cookies to cross-site requests on their own.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPBearer

from ecoeco.auth.revocation import is_revoked
from ecoeco.auth.runtime import auth_runtime
from ecoeco.auth.tokens import Principal, csrf_matches
from ecoeco.core.errors import Forbidden, Unauthorized
from ecoeco.runtime.deps import BackendsDep

ACCESS_COOKIE = "ecoeco_at"
REFRESH_COOKIE = "ecoeco_rt"
CSRF_COOKIE = "ecoeco_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document (the lock icons in /docs); the header is parsed below.
_bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /auth/{provider}/token.")
_cookie_scheme = APIKeyCookie(name=ACCESS_COOKIE, auto_error=False, description="Set by the web flow.")


async def current_principal(
    request: Request,
    backends: BackendsDep,
    _bearer: Annotated[object, Security(_bearer_scheme)] = None,
    _cookie: Annotated[object, Security(_cookie_scheme)] = None,
) -> Principal:
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


CurrentUser = Annotated[Principal, Depends(current_principal)]

__all__ = ["CurrentUser", "Principal", "current_principal"]
