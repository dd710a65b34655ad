"""Cursor pagination shared by every list endpoint: the page shape, its query parameters, its cursors.

A cursor encodes where the previous page ended; clients treat it as an opaque string. It is signed
(HMAC-SHA256 under a key derived from the server secret, see :func:`use_secret`), so the values a list
reads back from it are always ones the server wrote: an edited, truncated or forged cursor, and a cursor of
another query, is a 400 ``invalid-cursor`` before any of its values reach a query, never a 500. Lists
ordered by a key use keyset cursors (:func:`keyset_page` / :func:`read_keyset`): the next page starts
after the last row's key, so rows added or removed meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from ecoeco.core.errors import ProblemError

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

CursorQuery = Annotated[str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(ProblemError):
    code = "invalid-cursor"

    def __init__(self, detail: str = "The cursor is not valid.", **kw: Any) -> None:
        super().__init__(detail, **kw)


# Replaced by use_secret() when an app is built; random until then, so an unconfigured process still
# refuses every cursor it did not write itself.
_key = secrets.token_bytes(32)
_MAC_BYTES = 16


def use_secret(secret: str) -> None:
    """Sign cursors with a key derived from the server secret (every replica derives the same key)."""
    global _key
    _key = hashlib.sha256(b"ecoeco-cursor:" + secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _mac(payload: bytes) -> bytes:
    return hmac.new(_key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(values: dict[str, Any]) -> str:
    payload = json.dumps(values, separators=(",", ":"), default=str).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def decode_cursor(cursor: str | None, *, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        body, _, tag = cursor.partition(".")
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(tag), _mac(payload)):
            raise InvalidCursor()
        values = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(values, dict) or set(values) != set(keys):
        raise InvalidCursor()
    return values


def query_tag(*parts: object) -> str:
    """Ties a cursor to the query that made it: reusing it with other filters is a 400, not nonsense."""
    return hashlib.blake2s(repr(parts).encode(), digest_size=6).hexdigest()


def read_keyset(
    cursor: str | None, keys: tuple[str, ...], *, tag: str | None = None
) -> dict[str, Any] | None:
    """The key of the row the previous page ended with (None on the first page)."""
    values = decode_cursor(cursor, keys=keys if tag is None else (*keys, "q"))
    if values is None or tag is None:
        return values
    if values.pop("q") != tag:
        raise InvalidCursor("The cursor belongs to a different query.")
    return values


def keyset_page(
    rows: Sequence[T], limit: int, key: Callable[[T], dict[str, Any]], *, tag: str | None = None
) -> tuple[list[T], str | None]:
    """``rows`` fetched with one to spare: this page, and the cursor after its last row if there is more."""
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor(key(page[-1]) | ({} if tag is None else {"q": tag}))
