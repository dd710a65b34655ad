"""Production refuses the dev-only parts of auth at start-up."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from ecoeco.app import create_app
from ecoeco.auth.keys import KeyRing, KeyRingError
from ecoeco.settings import Settings, UnsafeSettingsError


def prod(tmp_path: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "env": "prod",
        "secret_key": "k" * 40,
        "auth_keys_dir": tmp_path,
        "_env_file": None,
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


def test_dev_provider_is_off_by_default_in_production(tmp_path: Path) -> None:
    assert not prod(tmp_path).dev_provider_enabled
    assert Settings(_env_file=None).dev_provider_enabled


def test_production_refuses_the_dev_provider(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettingsError, match="DEV_PROVIDER"):
        create_app(prod(tmp_path, auth_dev_provider=True))


def test_production_refuses_to_run_without_signing_keys(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettingsError, match="AUTH_KEYS_DIR"):
        prod(tmp_path, auth_keys_dir=None).check_production_safety()
    # ...and never mints its own: a key made by one replica would be unknown to the others.
    with pytest.raises(KeyRingError):
        KeyRing.load(tmp_path / "empty", generate_if_empty=False)


def test_production_refuses_insecure_cookies(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettingsError, match="COOKIE_SECURE"):
        prod(tmp_path, auth_cookie_secure=False).check_production_safety()


def test_placeholder_provider_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettingsError, match="AUTH_KAKAO_CLIENT_SECRET"):
        prod(
            tmp_path, auth_kakao_client_id="id", auth_kakao_client_secret="change-me"
        ).check_production_safety()


@pytest.mark.settings(auth_dev_provider=False)
async def test_disabled_dev_provider_is_not_offered(settings: Settings) -> None:
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/api/v1/auth/dev/authorize")
    assert r.status_code == 404
    assert "dev" not in r.json()["available"]


def test_signing_keys_are_private_files_and_never_in_reprs(tmp_path: Path) -> None:
    ring = KeyRing.load(tmp_path / "keys", generate_if_empty=True)
    (key_file,) = (tmp_path / "keys").glob("*.pem")
    assert key_file.stat().st_mode & 0o077 == 0
    assert "PRIVATE" not in repr(ring.current)
    assert "d" not in ring.jwks()["keys"][0]
