"""Access tokens (EdDSA-signed JWTs, RFC 9068 shape), opaque refresh tokens and CSRF tokens.

Verification follows RFC 8725: one allowed algorithm, the key chosen by ``kid`` from our own key
ring (never from the token), explicit ``typ``, and ``iss``/``aud``/``exp``/``nbf``/``iat`` checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from ecoeco.auth.keys import ALGORITHM, KeyRing, b64url
from ecoeco.core.errors import Unauthorized

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - the RFC 9068 media type, not a secret
# Clock skew tolerated between our replicas and the services that verify our tokens.
LEEWAY_S = 5
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "sid"]
# Verified tokens remembered per process: a phone sends the same token for minutes, and a cache
# hit skips parsing and the signature check. Time limits are re-checked on every hit; revocation
# is not cached (see ecoeco.auth.revocation). Bounded so a flood of distinct tokens cannot grow it.
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the verified content of an access token."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    expires_at: int
    via: Literal["bearer", "cookie"] = "bearer"


def _invalid(detail: str, code: str = "invalid-token") -> Unauthorized:
    return Unauthorized(detail, code=code, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to pick the key; PyJWT then verifies the whole token."""
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise _invalid("The access token is malformed.") from exc
    if not isinstance(header, dict):
        raise _invalid("The access token is malformed.")
    return header


class TokenService:
    def __init__(self, keys: KeyRing, *, issuer: str, audience: str, ttl_s: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self._verified: OrderedDict[str, tuple[Principal, int]] = OrderedDict()

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[str, int]:
        """Return a signed access token and its lifetime in seconds."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": b64url(secrets.token_bytes(16)),
        }
        key = self.keys.current
        token = jwt.encode(
            claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
        )
        return token, self.ttl_s

    def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            principal, not_before = hit
            now = time.time()
            if not_before - LEEWAY_S <= now < principal.expires_at + LEEWAY_S:
                return principal
            del self._verified[token]
        principal, not_before = self._verify(token)
        self._verified[token] = (principal, not_before)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, int]:
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise _invalid("The access token's algorithm is not accepted.")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise _invalid("The token is not an access token.")
        public = self.keys.public_key(header.get("kid"))
        if public is None:
            raise _invalid("The access token was signed with an unknown key.")
        try:
            claims = jwt.decode(
                token,
                public,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": _REQUIRED_CLAIMS},
            )
            principal = Principal(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                token_id=str(claims["jti"]),
                expires_at=int(claims["exp"]),
            )
            return principal, int(claims["nbf"])
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("The access token has expired.", "token-expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _invalid("The access token is not valid yet.", "token-not-yet-valid") from exc
        except jwt.InvalidTokenError as exc:
            raise _invalid(f"The access token is not valid: {exc}.") from exc
        except (ValueError, TypeError) as exc:  # sub/sid not UUIDs, exp not a number
            raise _invalid("The access token's claims are malformed.") from exc


def new_refresh_token() -> str:
    return "rt_" + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # 256 random bits need no slow hash: a fast one still makes a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: str, session_id: uuid.UUID) -> str:
    """Bound to the session, so a token planted by a sibling domain's cookie cannot match."""
    return b64url(hmac.new(secret.encode(), b"csrf:" + session_id.bytes, hashlib.sha256).digest())


def csrf_matches(secret: str, session_id: uuid.UUID, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(secret, session_id), presented)
