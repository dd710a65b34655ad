"""The sign-in flows (no SQL here): start an authorization, finish it, link identities to accounts.

Defences, each tied to a test in tests/auth:
* state: random, single-use (atomic pop), short TTL, server-side, bound to provider and client kind
  and, for browsers, to a cookie set when the flow started (login CSRF);
* IdP mix-up (RFC 9700 §4.4): one redirect URI per provider, state bound to the provider, and the
  RFC 9207 ``iss`` parameter checked wherever it is sent;
* PKCE S256 towards every provider that accepts it; mobile apps must bring their own verifier,
  which we check ourselves too (so it also protects Naver sign-ins, which lack PKCE);
* redirect URIs and front-end return URLs are compared exactly against allow-lists.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import httpx
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.auth import repository as repo
from ecoeco.auth.providers import ExternalIdentity, Grant, Provider, callback_url
from ecoeco.auth.providers.base import pkce_matches, s256
from ecoeco.auth.runtime import AuthRuntime
from ecoeco.auth.sessions import IssuedTokens, open_session, revoke
from ecoeco.cache import Cache
from ecoeco.core import events
from ecoeco.core.clock import utcnow
from ecoeco.core.errors import Conflict, NotFound, ProblemError, Unauthorized
from ecoeco.settings import Settings

Client = Literal["web", "mobile"]


class FlowState(BaseModel):
    """What the server remembers about one sign-in attempt, keyed by its state value."""

    provider: str
    client: Client
    redirect_uri: str
    return_to: str | None = None
    code_verifier: str | None = None  # web: ours; never leaves the server
    code_challenge: str | None = None  # mobile: the app's; it proves possession at /token
    nonce: str
    binding: str | None = None  # web: hash of the browser-binding cookie
    link_user_id: uuid.UUID | None = None
    # Checked on use as well as set as the cache entry's TTL: the cache's own expiry (Redis) is not ours.
    expires_at: datetime


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    expires_in: int
    browser_binding: str | None


@dataclass(frozen=True)
class SignIn:
    tokens: IssuedTokens
    new_user: bool
    return_to: str | None


def _bad(detail: str, code: str) -> ProblemError:
    return ProblemError(detail, code=code)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _state_key(state: str) -> str:
    return f"auth:state:{_digest(state)}"


def idp_http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.auth_idp_timeout_s, follow_redirects=False)


def web_return_urls(settings: Settings) -> list[str]:
    return settings.auth_web_return_urls or [settings.public_url.rstrip("/") + "/"]


def get_provider(runtime: AuthRuntime, name: str) -> Provider:
    provider = runtime.providers.get(name)
    if provider is None:
        raise NotFound(
            f"Sign-in with {name!r} is not available here.",
            code="unknown-provider",
            available=sorted(runtime.providers),
        )
    return provider


async def start_authorization(
    runtime: AuthRuntime,
    cache: Cache,
    provider: Provider,
    *,
    client: Client,
    redirect_uri: str | None,
    return_to: str | None,
    code_challenge: str | None,
    link_user_id: uuid.UUID | None,
) -> AuthorizationStart:
    settings = runtime.settings
    verifier = binding = None
    if client == "web":
        if redirect_uri is not None:
            raise _bad(
                "Web sign-in always returns to our callback; pass return_to instead.",
                "redirect-uri-not-allowed",
            )
        if code_challenge is not None:
            raise _bad(
                "In web sign-in the server holds the PKCE verifier; omit code_challenge.", "pkce-not-expected"
            )
        allowed = web_return_urls(settings)
        return_to = return_to or allowed[0]
        if return_to not in allowed:
            raise _bad("return_to is not an allowed front-end URL.", "redirect-uri-not-allowed")
        redirect_uri = callback_url(settings, provider.name)
        verifier = secrets.token_urlsafe(48)
        challenge = s256(verifier)
        binding = secrets.token_urlsafe(32)
    else:
        if return_to is not None:
            raise _bad(
                "return_to is for web sign-in; mobile apps pass redirect_uri.", "redirect-uri-not-allowed"
            )
        if redirect_uri is None or redirect_uri not in provider.mobile_redirect_uris:
            raise _bad("redirect_uri is not registered for this provider.", "redirect-uri-not-allowed")
        if code_challenge is None:
            raise _bad("Mobile sign-in needs a PKCE code_challenge (S256).", "pkce-required")
        challenge = code_challenge
    state = secrets.token_urlsafe(32)
    flow = FlowState(
        provider=provider.name,
        client=client,
        redirect_uri=redirect_uri,
        return_to=return_to,
        code_verifier=verifier,
        code_challenge=code_challenge,
        nonce=secrets.token_urlsafe(16),
        binding=_digest(binding) if binding else None,
        link_user_id=link_user_id,
        expires_at=utcnow() + timedelta(seconds=settings.auth_state_ttl_s),
    )
    async with idp_http(settings) as http:
        url = await provider.authorization_url(
            http,
            redirect_uri=redirect_uri,
            state=state,
            code_challenge=challenge if provider.supports_pkce else None,
            nonce=flow.nonce,
        )
    # Only a hash of the state is stored: a cache dump does not hand out live sign-in flows.
    await cache.set(_state_key(state), flow.model_dump_json(), ttl=settings.auth_state_ttl_s)
    return AuthorizationStart(
        url=url, state=state, expires_in=settings.auth_state_ttl_s, browser_binding=binding
    )


async def consume_state(
    cache: Cache, provider: Provider, state: str | None, *, client: Client, browser_binding: str | None = None
) -> FlowState:
    """Take the flow's state out of the store (it can be used once) and check it fits this request."""
    raw = await cache.pop(_state_key(state)) if state else None
    flow = FlowState.model_validate_json(raw) if raw is not None else None
    if flow is None or flow.expires_at <= utcnow():
        raise _bad("The sign-in state is missing, expired or already used; start again.", "invalid-state")
    if flow.provider != provider.name:
        raise _bad("This sign-in was started with another provider.", "provider-mismatch")
    if flow.client != client:
        raise _bad(f"This sign-in was started by a {flow.client} client.", "client-mismatch")
    if flow.binding is not None and (browser_binding is None or _digest(browser_binding) != flow.binding):
        raise _bad("This sign-in was started in another browser.", "state-not-bound")
    return flow


async def finish_sign_in(
    db: AsyncSession,
    runtime: AuthRuntime,
    provider: Provider,
    flow: FlowState,
    *,
    code: str,
    state: str,
    iss: str | None,
    code_verifier: str | None = None,
) -> SignIn:
    async with idp_http(runtime.settings) as http:
        iss_expected = iss is not None or await provider.requires_iss_parameter(http)
        if iss_expected and iss != await provider.issuer(http):
            raise _bad("The authorization response comes from another issuer.", "issuer-mismatch")
        if flow.client == "mobile":
            if (
                code_verifier is None
                or flow.code_challenge is None
                or not pkce_matches(code_verifier, flow.code_challenge)
            ):
                raise _bad("The PKCE code_verifier does not match the code_challenge.", "pkce-mismatch")
        else:
            code_verifier = flow.code_verifier
        grant = Grant(
            code=code,
            redirect_uri=flow.redirect_uri,
            state=state,
            code_verifier=code_verifier if provider.supports_pkce else None,
            nonce=flow.nonce,
        )
        identity = await provider.exchange(http, grant)
    user_id, created = await resolve_user(db, identity, link_user_id=flow.link_user_id)
    tokens = await open_session(db, runtime, user_id=user_id, provider=provider.name, client=flow.client)
    return SignIn(tokens=tokens, new_user=created, return_to=flow.return_to)


async def resolve_user(
    db: AsyncSession, identity: ExternalIdentity, *, link_user_id: uuid.UUID | None
) -> tuple[uuid.UUID, bool]:
    """The account of this identity: existing, linked to the signed-in user, or new. (id, created)"""
    existing = await repo.find_identity(db, identity.provider, identity.subject)
    if existing is not None:
        if link_user_id is not None and existing.user_id != link_user_id:
            raise Conflict(
                f"This {identity.provider} account already belongs to another account.",
                code="identity-linked-elsewhere",
            )
        return existing.user_id, False
    if link_user_id is not None:
        # Every account signs in through at least one identity, and they go with it when it is erased.
        if not await repo.providers_of(db, link_user_id):
            raise Unauthorized("The account to link to no longer exists.", code="account-deleted")
        if await repo.insert_identity_if_absent(
            db, user_id=link_user_id, provider=identity.provider, subject=identity.subject
        ):
            return link_user_id, False
        return await resolve_user(db, identity, link_user_id=link_user_id)  # linked meanwhile: look again
    async with db.begin_nested() as account:
        user_id = uuid.uuid4()
        await events.publish(db, events.USER_CREATED, {"user_id": user_id})  # users adds its profile
        if await repo.insert_identity_if_absent(
            db, user_id=user_id, provider=identity.provider, subject=identity.subject
        ):
            return user_id, True
        # A concurrent first sign-in of the same person won the race: drop this account, use that one.
        await account.rollback()
    return await resolve_user(db, identity, link_user_id=None)


async def providers_of(db: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The providers an account signs in with, oldest link first."""
    return await repo.providers_of(db, user_id)


async def sign_out_everywhere(
    db: AsyncSession, cache: Cache, settings: Settings, user_id: uuid.UUID, *, reason: str
) -> None:
    """Revoke every session of the account (and deny their access tokens), in the caller's transaction."""
    await revoke(db, cache, settings, user_id=user_id, session_id=None, reason=reason)
