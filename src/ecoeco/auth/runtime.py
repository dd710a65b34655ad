"""Per-process auth state built once from settings: key ring, token service, providers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecoeco.auth.keys import KeyRing
from ecoeco.auth.providers import Provider, build_providers
from ecoeco.auth.tokens import TokenService
from ecoeco.runtime import Backends
from ecoeco.settings import Settings


@dataclass
class AuthRuntime:
    settings: Settings
    tokens: TokenService
    providers: dict[str, Provider] = field(default_factory=dict)

    @classmethod
    def from_backends(cls, backends: Backends) -> AuthRuntime:
        settings = backends.settings
        keys_dir = settings.auth_keys_dir or settings.data_dir / "auth-keys"
        # Only dev may mint its own key; production refuses to start without ECOECO_AUTH_KEYS_DIR.
        keys = KeyRing.load(keys_dir, generate_if_empty=settings.is_dev)
        tokens = TokenService(
            keys,
            issuer=settings.auth_issuer or settings.public_url.rstrip("/"),
            audience=settings.auth_audience,
            ttl_s=settings.auth_access_ttl_s,
        )
        return cls(settings=settings, tokens=tokens, providers=build_providers(settings, backends.cache))


def auth_runtime(backends: Backends) -> AuthRuntime:
    """The process' auth runtime, built on first use."""
    return backends.component(AuthRuntime.from_backends)
