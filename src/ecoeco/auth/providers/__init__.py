"""Sign-in provider adapters, built from settings: a provider is on when its client id is set."""

from __future__ import annotations

from ecoeco.auth.providers.base import ExternalIdentity, Grant, Provider
from ecoeco.auth.providers.dev import DevProvider
from ecoeco.auth.providers.google import GoogleProvider
from ecoeco.auth.providers.kakao import KakaoProvider
from ecoeco.auth.providers.naver import NaverProvider
from ecoeco.cache import Cache
from ecoeco.core.api import API_PREFIX
from ecoeco.settings import Settings

AUTH_PATH = f"{API_PREFIX}/auth"
DEV_CONSENT_PATH = f"{AUTH_PATH}/dev/consent"


def callback_url(settings: Settings, provider: str) -> str:
    """The web flow's redirect URI for ``provider`` (register exactly this at the provider)."""
    return f"{settings.public_url.rstrip('/')}{AUTH_PATH}/{provider}/callback"


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return get() if get else None


def build_providers(settings: Settings, cache: Cache) -> dict[str, Provider]:
    providers: list[Provider] = []
    if settings.auth_kakao_client_id:
        providers.append(
            KakaoProvider(
                client_id=settings.auth_kakao_client_id,
                client_secret=_secret(settings.auth_kakao_client_secret),
                redirect_uris=settings.auth_kakao_redirect_uris,
                auth_url=settings.auth_kakao_auth_url,
                api_url=settings.auth_kakao_api_url,
            )
        )
    if settings.auth_naver_client_id:
        providers.append(
            NaverProvider(
                client_id=settings.auth_naver_client_id,
                client_secret=_secret(settings.auth_naver_client_secret),
                redirect_uris=settings.auth_naver_redirect_uris,
                auth_url=settings.auth_naver_auth_url,
                api_url=settings.auth_naver_api_url,
            )
        )
    if settings.auth_google_client_id:
        providers.append(
            GoogleProvider(
                client_id=settings.auth_google_client_id,
                client_secret=_secret(settings.auth_google_client_secret),
                redirect_uris=settings.auth_google_redirect_uris,
                discovery_url=settings.auth_google_discovery_url,
            )
        )
    if settings.dev_provider_enabled:
        providers.append(
            DevProvider(
                cache=cache,
                public_url=settings.public_url,
                consent_path=DEV_CONSENT_PATH,
                redirect_uris=settings.auth_dev_redirect_uris,
            )
        )
    return {p.name: p for p in providers}


__all__ = ["DEV_CONSENT_PATH", "ExternalIdentity", "Grant", "Provider", "build_providers", "callback_url"]
