"""Auth API: provider sign-in (web and mobile), token refresh and logout, public keys, dev consent."""

from __future__ import annotations

import html
import re
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from ecoeco.auth import service, sessions
from ecoeco.auth.deps import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    CSRF_HEADER,
    REFRESH_COOKIE,
    CurrentUser,
    current_principal,
)
from ecoeco.auth.providers import AUTH_PATH, callback_url
from ecoeco.auth.providers.base import with_query
from ecoeco.auth.providers.dev import DevProvider
from ecoeco.auth.ratelimit import rate_limited
from ecoeco.auth.runtime import AuthRuntime, auth_runtime
from ecoeco.auth.schemas import (
    CHALLENGE_PATTERN,
    AuthorizationOut,
    Jwks,
    ProvidersOut,
    RefreshIn,
    TokenIn,
    TokenOut,
)
from ecoeco.auth.sessions import IssuedTokens
from ecoeco.auth.tokens import csrf_token
from ecoeco.core.api import API_PREFIX
from ecoeco.core.errors import ProblemError, Unauthorized
from ecoeco.core.text import Text
from ecoeco.runtime.deps import BackendsDep, SessionDep
from ecoeco.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"])

BINDING_COOKIE = "ecoeco_oauth"
NO_STORE = {"Cache-Control": "no-store"}
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


async def _runtime(backends: BackendsDep) -> AuthRuntime:
    return auth_runtime(backends)


RuntimeDep = Annotated[AuthRuntime, Depends(_runtime)]


def _set_session_cookies(response: Response, settings: Settings, tokens: IssuedTokens) -> None:
    secure = settings.auth_cookie_secure
    response.set_cookie(
        ACCESS_COOKIE, tokens.access_token, max_age=tokens.expires_in, path=API_PREFIX,
        httponly=True, secure=secure, samesite="lax",
    )  # fmt: skip
    # Only the auth endpoints ever see the refresh token, and never from another site.
    response.set_cookie(
        REFRESH_COOKIE, tokens.refresh_token, max_age=tokens.refresh_expires_in, path=AUTH_PATH,
        httponly=True, secure=secure, samesite="strict",
    )  # fmt: skip
    # Readable by the front-end's script, which echoes it in X-CSRF-Token.
    response.set_cookie(
        CSRF_COOKIE, csrf_token(settings.secret_key.get_secret_value(), tokens.session_id),
        max_age=tokens.refresh_expires_in, path="/", httponly=False, secure=secure, samesite="lax",
    )  # fmt: skip


def _clear_session_cookies(response: Response, settings: Settings) -> None:
    secure = settings.auth_cookie_secure
    response.delete_cookie(ACCESS_COOKIE, path=API_PREFIX, secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(REFRESH_COOKIE, path=AUTH_PATH, secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="lax")


def _token_out(tokens: IssuedTokens, *, new_user: bool = False) -> dict[str, object]:
    out = TokenOut(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
        user_id=tokens.user_id,
        new_user=new_user,
    )
    return out.model_dump(mode="json")


@router.get("/jwks", response_model=Jwks, summary="Public keys that verify our access tokens")
async def jwks(runtime: RuntimeDep, response: Response) -> dict[str, object]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return runtime.tokens.keys.jwks()


@router.get("/providers", response_model=ProvidersOut, summary="Sign-in providers enabled here")
async def providers(runtime: RuntimeDep) -> JSONResponse:
    # For sign-in screens: show a button only for a provider that is configured.
    body = ProvidersOut(providers=list(runtime.providers))
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "public, max-age=300"})


@router.post(
    "/refresh",
    response_model=TokenOut,
    dependencies=[Depends(rate_limited("refresh"))],
    summary="Trade a refresh token for a new pair (the old one stops working)",
)
async def refresh(
    request: Request,
    db: SessionDep,
    backends: BackendsDep,
    runtime: RuntimeDep,
    body: RefreshIn | None = None,
) -> JSONResponse:
    from_cookie = body is None or body.refresh_token is None
    raw = request.cookies.get(REFRESH_COOKIE) if from_cookie else body.refresh_token if body else None
    if not raw:
        raise Unauthorized(
            "Send refresh_token in the body, or the web flow's cookie.", code="invalid-refresh-token"
        )
    tokens = await sessions.rotate(
        db, backends.cache, runtime, raw, csrf=request.headers.get(CSRF_HEADER), from_cookie=from_cookie
    )
    response = JSONResponse(_token_out(tokens), headers=NO_STORE)
    if from_cookie:
        _set_session_cookies(response, backends.settings, tokens)
    return response


@router.post("/logout", status_code=204, summary="Sign this session out everywhere")
async def logout(principal: CurrentUser, db: SessionDep, backends: BackendsDep) -> Response:
    await sessions.revoke(
        db,
        backends.cache,
        backends.settings,
        user_id=principal.user_id,
        session_id=principal.session_id,
        reason="logout",
    )
    response = Response(status_code=204)
    _clear_session_cookies(response, backends.settings)
    return response


# --- the dev provider's consent page ---------------------------------------------------------

_CONSENT_PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>ecoeco dev sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>ecoeco 개발용 로그인</h1>
<p>Development sign-in: no real account is involved. The same name signs in to the same account.</p>
<form method="post" action="{action}">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<input type="hidden" name="code_challenge" value="{code_challenge}">
<label>Name <input name="name" value="dev-user" maxlength="40" required></label>
<p><button name="decision" value="allow">동의하고 계속하기 (Allow)</button>
<button name="decision" value="deny">취소 (Deny)</button></p>
</form></body></html>"""


def _dev_request(
    runtime: AuthRuntime, *, client_id: str, redirect_uri: str, code_challenge: str
) -> DevProvider:
    """Check a consent request the way a real provider would, before showing or granting anything."""
    dev = service.get_provider(runtime, "dev")
    if not isinstance(dev, DevProvider):  # another provider registered under the name "dev"
        raise TypeError("the dev provider is misconfigured")
    if client_id != dev.client_id:
        raise ProblemError("Unknown client_id.", code="invalid-client")
    if redirect_uri not in dev.mobile_redirect_uris | {callback_url(runtime.settings, "dev")}:
        raise ProblemError(
            "redirect_uri is not registered for the dev provider.", code="redirect-uri-not-allowed"
        )
    if not re.fullmatch(CHALLENGE_PATTERN, code_challenge):
        raise ProblemError("The dev provider requires a PKCE S256 code_challenge.", code="pkce-required")
    return dev


@router.get("/dev/consent", response_class=HTMLResponse, include_in_schema=False)
async def dev_consent_page(
    runtime: RuntimeDep,
    client_id: Annotated[str, Query(max_length=64)],
    redirect_uri: Annotated[str, Query(max_length=2048)],
    state: Annotated[str, Query(max_length=256)],
    code_challenge: Annotated[str, Query(max_length=64)],
    response_type: Literal["code"],
    code_challenge_method: Literal["S256"],
) -> HTMLResponse:
    _dev_request(runtime, client_id=client_id, redirect_uri=redirect_uri, code_challenge=code_challenge)
    page = _CONSENT_PAGE.format(
        action=html.escape(AUTH_PATH + "/dev/consent"),
        client_id=html.escape(client_id),
        redirect_uri=html.escape(redirect_uri),
        state=html.escape(state),
        code_challenge=html.escape(code_challenge),
    )
    # Its own policy: the page's one inline style attribute (the form may redirect anywhere registered).
    csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    return HTMLResponse(page, headers={**NO_STORE, "Content-Security-Policy": csp})


@router.post("/dev/consent", include_in_schema=False, dependencies=[Depends(rate_limited("login"))])
async def dev_consent(
    runtime: RuntimeDep,
    client_id: Annotated[Text, Form(max_length=64)],
    redirect_uri: Annotated[Text, Form(max_length=2048)],
    state: Annotated[Text, Form(max_length=256)],
    code_challenge: Annotated[Text, Form(max_length=64)],
    name: Annotated[Text, Form(min_length=1, max_length=40)],
    decision: Annotated[Literal["allow", "deny"], Form()],
) -> RedirectResponse:
    dev = _dev_request(runtime, client_id=client_id, redirect_uri=redirect_uri, code_challenge=code_challenge)
    issuer = runtime.settings.public_url.rstrip("/") + dev.consent_path
    if decision == "deny":
        params = {"error": "access_denied", "state": state, "iss": issuer}
    else:
        code = await dev.grant(subject=name.strip(), redirect_uri=redirect_uri, code_challenge=code_challenge)
        params = {"code": code, "state": state, "iss": issuer}
    return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=303, headers=NO_STORE)


# --- provider flows --------------------------------------------------------------------------


@router.get(
    "/{provider}/authorize",
    response_model=AuthorizationOut,
    dependencies=[Depends(rate_limited("login"))],
    summary="Start signing in: returns (or redirects to) the provider's authorization URL",
)
async def authorize(
    provider: str,
    request: Request,
    backends: BackendsDep,
    runtime: RuntimeDep,
    client: service.Client = "web",
    redirect_uri: Annotated[
        str | None, Query(max_length=2048, description="Mobile: the app's redirect URI.")
    ] = None,
    return_to: Annotated[
        str | None, Query(max_length=2048, description="Web: where to land afterwards.")
    ] = None,
    code_challenge: Annotated[
        str | None, Query(pattern=CHALLENGE_PATTERN, description="Mobile: PKCE.")
    ] = None,
    code_challenge_method: Literal["S256"] | None = None,
    link: Annotated[bool, Query(description="Link this provider to the signed-in account.")] = False,
    mode: Literal["json", "redirect"] = "json",
) -> Response:
    chosen = service.get_provider(runtime, provider)
    if code_challenge is not None and code_challenge_method is None:
        # RFC 7636 would read a missing method as "plain"; we accept S256 only.
        raise ProblemError("Pass code_challenge_method=S256.", code="pkce-method-required")
    link_user_id = (await current_principal(request)).user_id if link else None
    start = await service.start_authorization(
        runtime,
        backends.cache,
        chosen,
        client=client,
        redirect_uri=redirect_uri,
        return_to=return_to,
        code_challenge=code_challenge,
        link_user_id=link_user_id,
    )
    response: Response
    if mode == "redirect":
        response = RedirectResponse(start.url, status_code=302, headers=NO_STORE)
    else:
        body = AuthorizationOut(authorization_url=start.url, state=start.state, expires_in=start.expires_in)
        response = JSONResponse(body.model_dump(), headers=NO_STORE)
    if start.browser_binding:
        response.set_cookie(
            BINDING_COOKIE, start.browser_binding, max_age=start.expires_in, path=AUTH_PATH,
            httponly=True, secure=backends.settings.auth_cookie_secure, samesite="lax",
        )  # fmt: skip
    return response


@router.get(
    "/{provider}/callback",
    name="auth_callback",
    dependencies=[Depends(rate_limited("login"))],
    summary="Web flow: the provider sends the browser here; we set cookies and redirect to the front-end",
    responses={303: {"description": "To return_to, with `auth_error` on failure"}},
)
async def callback(
    provider: str,
    request: Request,
    db: SessionDep,
    backends: BackendsDep,
    runtime: RuntimeDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=256)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    iss: Annotated[str | None, Query(max_length=512)] = None,
) -> RedirectResponse:
    chosen = service.get_provider(runtime, provider)
    # Until the state checks out we know nothing trustworthy about where to send the browser: 4xx.
    flow = await service.consume_state(
        backends.cache, chosen, state, client="web", browser_binding=request.cookies.get(BINDING_COOKIE)
    )
    target = flow.return_to or service.web_return_urls(backends.settings)[0]
    failure: str | None = None
    if error is not None or not code:
        failure = error if error and _ERROR_CODE.match(error) else "missing_code"
    else:
        try:
            result = await service.finish_sign_in(
                db, runtime, chosen, flow, code=code, state=state or "", iss=iss
            )
        except ProblemError as exc:
            await db.rollback()
            failure = exc.code
    if failure is not None:
        response = RedirectResponse(
            with_query(target, {"auth_error": failure}), status_code=303, headers=NO_STORE
        )
    else:
        response = RedirectResponse(target, status_code=303, headers=NO_STORE)
        _set_session_cookies(response, backends.settings, result.tokens)
    response.delete_cookie(
        BINDING_COOKIE, path=AUTH_PATH, secure=backends.settings.auth_cookie_secure, httponly=True
    )
    return response


@router.post(
    "/{provider}/token",
    response_model=TokenOut,
    dependencies=[Depends(rate_limited("token"))],
    summary="Mobile flow: exchange the provider's code (with state and PKCE verifier) for tokens",
)
async def token(
    provider: str, body: TokenIn, db: SessionDep, backends: BackendsDep, runtime: RuntimeDep
) -> JSONResponse:
    chosen = service.get_provider(runtime, provider)
    flow = await service.consume_state(backends.cache, chosen, body.state, client="mobile")
    result = await service.finish_sign_in(
        db,
        runtime,
        chosen,
        flow,
        code=body.code,
        state=body.state,
        iss=body.iss,
        code_verifier=body.code_verifier,
    )
    return JSONResponse(_token_out(result.tokens, new_user=result.new_user), headers=NO_STORE)
