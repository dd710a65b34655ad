"""Typed settings: every knob is an ``ECOECO_*`` environment variable (or a ``.env`` line).

Embedded mode (the default) needs nothing installed: SQLite, local disk, in-process cache and queue.
Setting the URLs below switches each backend to its distributed implementation.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

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
    log_json: bool | None = None  # None: JSON unless writing to a terminal

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
    # The whole body must arrive within this long (408 otherwise): a client trickling bytes cannot hold a
    # request open. 60 s carries a 20 MB photo at 3 Mbit/s; the web app scales photos down before sending.
    body_timeout_s: float = 60.0
    # A request head (request line and headers) larger than this, or with more header fields, gets 431
    # before the app runs (enforced by the HTTP server of `ecoeco serve` / `ecoeco up`).
    max_head_bytes: int = 32 * 1024
    max_header_fields: int = 100
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or CIDRs, comma-separated
    # (the load balancer's network in production; see deploy/k8s). Empty: nobody's, the peer address is the
    # client (so a client cannot pick its own rate-limit bucket).
    forwarded_allow_ips: str = ""
    # /docs and /openapi.json: on in dev and test; in production only when asked for (the API reference is
    # not for the public listener by default).
    api_docs: bool | None = None
    # Dependencies whose outage leaves /readyz at 200 ("degraded"), e.g. `broker` for the sync APIs:
    # their writes wait in the outbox, so taking them out of the load balancer would only hurt.
    ready_optional: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- auth: sign-in, tokens, sessions (owned by ecoeco.auth; lists are JSON arrays) ----------
    # Access tokens are short so a stolen one is of little use and revocation lists stay small;
    # refresh tokens rotate on every use, and a session ends after auth_session_max_s regardless.
    auth_access_ttl_s: int = 600
    auth_refresh_ttl_s: int = 30 * 24 * 3600
    auth_session_max_s: int = 90 * 24 * 3600
    auth_state_ttl_s: int = 600
    auth_issuer: str | None = None  # defaults to public_url
    auth_audience: str = "ecoeco-api"
    # Directory of Ed25519 private keys (PEM): the newest file signs, all verify (rotation).
    # Unset in dev: generated under data_dir. Required in prod (mount it from a secret).
    auth_keys_dir: Path | None = None
    # The built-in `dev` login provider: None means on in dev/test and off in prod.
    auth_dev_provider: bool | None = None
    auth_dev_redirect_uris: list[str] = Field(default_factory=lambda: ["ecoeco://auth/callback"])
    # Front-end URLs the web flow may land on after sign-in (exact match); empty means public_url + "/".
    auth_web_return_urls: list[str] = Field(default_factory=list)
    auth_cookie_secure: bool = True
    auth_rate_limit: int = 30  # sign-in/token/refresh requests per client IP per window
    auth_rate_window_s: int = 60
    auth_idp_timeout_s: float = 5.0
    auth_profile_cache_s: float = 30.0
    # Social providers: a provider is enabled when its client id is set. *_redirect_uris are the
    # mobile apps' redirect URIs registered at that provider (the web callback is derived).
    auth_kakao_client_id: str | None = None
    auth_kakao_client_secret: SecretStr | None = None
    auth_kakao_redirect_uris: list[str] = Field(default_factory=list)
    auth_kakao_auth_url: str = "https://kauth.kakao.com"
    auth_kakao_api_url: str = "https://kapi.kakao.com"
    auth_naver_client_id: str | None = None
    auth_naver_client_secret: SecretStr | None = None
    auth_naver_redirect_uris: list[str] = Field(default_factory=list)
    auth_naver_auth_url: str = "https://nid.naver.com"
    auth_naver_api_url: str = "https://openapi.naver.com"
    auth_google_client_id: str | None = None
    auth_google_client_secret: SecretStr | None = None
    auth_google_redirect_uris: list[str] = Field(default_factory=list)
    auth_google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"

    @property
    def dev_provider_enabled(self) -> bool:
        return self.is_dev if self.auth_dev_provider is None else self.auth_dev_provider

    def _auth_problems(self) -> list[str]:
        problems = []
        if self.auth_dev_provider:
            problems.append("ECOECO_AUTH_DEV_PROVIDER must be off outside dev mode")
        if self.auth_keys_dir is None:
            problems.append("ECOECO_AUTH_KEYS_DIR must point at the token signing keys")
        if not self.auth_cookie_secure:
            problems.append("ECOECO_AUTH_COOKIE_SECURE must be on outside dev mode")
        return problems

    # --- end of auth ---------------------------------------------------------------------------

    # --- vision: image intake and classification (owned by ecoeco.vision) -----------------------
    # Uploads beyond these bounds are refused before any pixel is decoded (413 / 422).
    # 50 MP admits the 48 MP photos of current phones.
    image_max_bytes: int = 20 * 1024 * 1024
    image_max_pixels: int = 50_000_000  # PNG and WebP: at most 16.7 MP (ecoeco.vision.images)
    # Memory all image decodes of one process may hold at once (the API pods have 512 MiB in all).
    image_decode_budget_mb: int = 192
    # `local`: EfficientNet-Lite0 under onnxruntime in this process; `openai`: any OpenAI-compatible API.
    vision_backend: Literal["local", "openai"] = "local"
    vision_threads: int = 2  # onnxruntime intra-op threads; the machines have 2 cores
    vision_model: str = "gpt-4o-mini"
    vision_base_url: str | None = None  # None means the OpenAI API itself
    vision_api_key: SecretStr | None = None
    vision_timeout_s: float = 20.0
    vision_max_retries: int = 2
    # --- end of vision -----------------------------------------------------------------------------

    # --- rewards and insights (owned by ecoeco.rewards, ecoeco.insights) ---------------------------
    # Characters one account may earn per Korean calendar day (a cap on farming, see rewards/ABUSE.md).
    rewards_daily_limit: int = Field(default=3, ge=0)
    # Users per transaction of the weekly-report job; each batch commits with the job's checkpoint.
    insights_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Fewer distinct people than this in a region's week: no community figure is shown for it.
    insights_min_group: int = Field(default=10, ge=2)
    # --- end of rewards and insights -----------------------------------------------------------------

    # --- queue: task queue, workers, scheduler (owned by ecoeco.queue) ----------------------------
    # Extra modules defining @task functions, comma-separated; every package's tasks.py is found anyway.
    queue_task_modules: str = ""
    # --- end of queue ------------------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for name in ("ready_optional",):
                value = data.get(name)
                if isinstance(value, str):
                    data[name] = [v.strip() for v in value.split(",") if v.strip()]
        return data

    @property
    def is_dev(self) -> bool:
        return self.env is not Environment.PROD

    @property
    def api_docs_enabled(self) -> bool:
        return self.is_dev if self.api_docs is None else self.api_docs

    @property
    def database_dsn(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ecoeco.db').resolve()}"

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
        problems += self._auth_problems()
        if problems:
            raise UnsafeSettingsError("; ".join(problems))


class UnsafeSettingsError(RuntimeError):
    """Settings that are fine for a laptop but dangerous in production."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
