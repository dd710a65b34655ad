"""Opaque cursor pagination shared by every list endpoint.

A cursor encodes the sort key of the last item returned; clients treat it as an opaque string.
Tampered or malformed cursors are a 400, never a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ecoeco.core.errors import ProblemError

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, *, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProblemError("The cursor is not valid.", code="invalid-cursor") from exc
    if not isinstance(values, dict) or set(values) != set(keys):
        raise ProblemError("The cursor is not valid.", code="invalid-cursor")
    return values
