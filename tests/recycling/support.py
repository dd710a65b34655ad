from __future__ import annotations

from collections.abc import Callable
from typing import Any

EditYaml = Callable[[str, Callable[[dict[str, Any]], object]], None]


def record(document: dict[str, Any], kind: str, record_id: str) -> dict[str, Any]:
    """The record with this id in a parsed data file."""
    found: dict[str, Any] = next(r for r in document[kind] if r["id"] == record_id)
    return found
