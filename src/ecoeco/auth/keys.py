"""Ed25519 signing keys for access tokens, with rotation.

Keys live as PEM files in one directory (a mounted secret in production). Files sort by name; the
last one signs and every one verifies, so rotating is "add a newer file, later delete the oldest".
A key's ``kid`` is its RFC 7638 thumbprint. Private keys never leave this module's objects: no
repr, no logging.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey = field(repr=False)
    public: Ed25519PublicKey = field(repr=False)

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> SigningKey:
        public = private.public_key()
        x = b64url(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        # RFC 7638: members in lexicographic order, no whitespace.
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
        kid = b64url(hashlib.sha256(canonical.encode()).digest())
        return cls(kid=kid, private=private, public=public)

    def jwk(self) -> dict[str, str]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(raw),
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
        }


class KeyRingError(RuntimeError):
    """The key directory is missing, empty or holds something that is not an Ed25519 key."""


class KeyRing:
    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise KeyRingError("no signing keys")
        self.current = keys[-1]
        self._by_kid = {k.kid: k for k in keys}

    def public_key(self, kid: object) -> Ed25519PublicKey | None:
        key = self._by_kid.get(kid) if isinstance(kid, str) else None
        return key.public if key else None

    def jwks(self) -> dict[str, Any]:
        # Newest first: clients that take the first key get the one that signs.
        return {"keys": [k.jwk() for k in reversed(self._by_kid.values())]}

    @classmethod
    def load(cls, directory: Path, *, generate_if_empty: bool) -> KeyRing:
        files = sorted(directory.glob("*.pem")) if directory.is_dir() else []
        if not files:
            if not generate_if_empty:
                raise KeyRingError(f"no *.pem signing keys in {directory}")
            files = [write_new_key(directory)]
        keys = []
        for path in files:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise KeyRingError(f"{path.name} is not an Ed25519 private key")
            keys.append(SigningKey.from_private(private))
        return cls(keys)


def write_new_key(directory: Path) -> Path:
    """Create a fresh key whose file name sorts after every existing one. Returns its path."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = Ed25519PrivateKey.generate()
    kid = SigningKey.from_private(private).kid
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{kid[:8]}.pem"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # O_EXCL + 0600: never overwrite a key, never readable by other users.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


def prune_keys(directory: Path, *, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest keys; returns the deleted paths."""
    files = sorted(directory.glob("*.pem"))
    doomed = files[: max(0, len(files) - max(1, keep))]
    for path in doomed:
        path.unlink()
    return doomed
