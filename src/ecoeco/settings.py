"""Typed settings: every knob is an ``ECOECO_*`` environment variable (or a ``.env`` line).

Embedded mode (the default) needs nothing installed: SQLite, local disk, in-process cache and queue.
Setting the URLs below switches each backend to its distributed implementation.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Values shipped for local development only; refused at start-up outside dev mode.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "dev-secret", "changeme", "secret"})


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ECOECO_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEV
    data_dir: Path = Path("./var")
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = True

    # Backends: unset means the embedded implementation.
    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "ap-northeast-2"
    # Namespaces this process' keys in Redis (lets tests and tenants share one server).
    redis_prefix: str = "ecoeco:"

    # Secrets.
    secret_key: SecretStr = SecretStr("dev-secret")

    # Request limits.
    max_body_bytes: int = 25 * 1024 * 1024
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            origins = data.get("cors_origins")
            if isinstance(origins, str):
                data["cors_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return data

    @property
    def is_dev(self) -> bool:
        return self.env is not Environment.PROD

    @property
    def database_dsn(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ecoeco.db').resolve()}"

    @property
    def is_embedded_db(self) -> bool:
        return self.database_dsn.startswith("sqlite")

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "objects"

    def secret_fields(self) -> dict[str, SecretStr]:
        return {
            name: value
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SecretStr)
        }

    def check_production_safety(self) -> None:
        """Refuse to start outside dev mode with placeholder secrets or embedded-only parts."""
        if self.is_dev:
            return
        problems = [
            f"ECOECO_{name.upper()} has a placeholder value"
            for name, value in self.secret_fields().items()
            if value.get_secret_value() in PLACEHOLDER_SECRETS
        ]
        if len(self.secret_key.get_secret_value()) < 32:
            problems.append("ECOECO_SECRET_KEY must be at least 32 characters")
        if problems:
            raise UnsafeSettingsError("; ".join(problems))


class UnsafeSettingsError(RuntimeError):
    """Settings that are fine for a laptop but dangerous in production."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
