"""Request and response bodies of the auth API."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from ecoeco.core.text import Text

# RFC 7636 §4.1: 43–128 unreserved characters.
VERIFIER_PATTERN = r"^[A-Za-z0-9\-._~]{43,128}$"
# BASE64URL(SHA-256(verifier)) is always 43 characters.
CHALLENGE_PATTERN = r"^[A-Za-z0-9\-_]{43}$"


class AuthorizationOut(BaseModel):
    authorization_url: str
    state: str
    expires_in: int


class ProvidersOut(BaseModel):
    providers: list[str] = Field(description="Enabled sign-in providers, in the order to show them.")


class TokenIn(BaseModel):
    """Mobile apps: what the provider sent to the app's redirect URI, plus the app's PKCE verifier."""

    model_config = ConfigDict(extra="forbid")

    code: Text = Field(min_length=1, max_length=2048)
    state: Text = Field(min_length=1, max_length=256)
    code_verifier: str = Field(pattern=VERIFIER_PATTERN)
    iss: Text | None = Field(
        default=None, max_length=512, description="RFC 9207 `iss`, if the provider sent one."
    )


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Text | None = Field(
        default=None, min_length=1, max_length=256, description="Omit to use the web flow's cookie."
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user_id: uuid.UUID
    new_user: bool = False


class Jwks(BaseModel):
    keys: list[dict[str, str]]
