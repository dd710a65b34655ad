"""``ecoeco auth …``: signing-key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecoeco.auth.keys import KeyRing, prune_keys, write_new_key
from ecoeco.settings import get_settings


def _keys_dir() -> Path:
    settings = get_settings()
    return settings.auth_keys_dir or settings.data_dir / "auth-keys"


def register(app: typer.Typer) -> None:
    auth = typer.Typer(help="Sign-in and token administration.", no_args_is_help=True)

    @auth.command("rotate-key")
    def rotate_key(
        keep: Annotated[
            int, typer.Option(help="How many keys to keep, newest first (>= 2 keeps old tokens valid).")
        ] = 2,
    ) -> None:
        """Add a new signing key (it signs from the next start) and drop all but the newest KEEP."""
        directory = _keys_dir()
        path = write_new_key(directory)
        removed = prune_keys(directory, keep=keep)
        ring = KeyRing.load(directory, generate_if_empty=False)
        typer.echo(f"new key {ring.current.kid} in {path.name}; removed {len(removed)} old key(s)")

    @auth.command("jwks")
    def jwks() -> None:
        """Print the public keys (the same document as GET /api/v1/auth/jwks)."""
        import json

        typer.echo(json.dumps(KeyRing.load(_keys_dir(), generate_if_empty=False).jwks(), indent=2))

    app.add_typer(auth, name="auth")
