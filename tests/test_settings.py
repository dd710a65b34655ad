from __future__ import annotations

import pytest

from ecoeco.settings import Settings, UnsafeSettingsError


def test_embedded_defaults_need_no_services(tmp_path) -> None:
    s = Settings(data_dir=tmp_path, _env_file=None)
    assert s.database_dsn.startswith("sqlite+aiosqlite:///")
    assert s.redis_url is None
    assert s.broker_url is None
    assert s.s3_bucket is None


def test_placeholder_secret_is_refused_in_production() -> None:
    with pytest.raises(UnsafeSettingsError, match="ECOECO_SECRET_KEY"):
        Settings(env="prod", _env_file=None).check_production_safety()


def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(UnsafeSettingsError, match="at least 32"):
        Settings(env="prod", secret_key="x" * 10, _env_file=None).check_production_safety()


def test_real_secret_is_accepted_in_production(tmp_path) -> None:
    # Production also needs the token signing keys (see the auth section of Settings).
    settings = Settings(env="prod", secret_key="k" * 40, auth_keys_dir=tmp_path, _env_file=None)
    settings.check_production_safety()


def test_dev_mode_tolerates_placeholders() -> None:
    Settings(env="dev", _env_file=None).check_production_safety()


def test_secrets_never_appear_in_repr_or_dump() -> None:
    s = Settings(secret_key="super-sensitive-value-1234567890ab", _env_file=None)
    assert "super-sensitive" not in repr(s)
    assert "super-sensitive" not in str(s.model_dump())
    assert "super-sensitive" not in s.model_dump_json()


def test_env_prefix_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOECO_REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("ECOECO_READY_OPTIONAL", "broker, cache")
    s = Settings(_env_file=None)
    assert s.redis_url == "redis://example:6379/0"
    assert s.ready_optional == ["broker", "cache"]
