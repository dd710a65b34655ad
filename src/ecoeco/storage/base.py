"""The storage port. Keys are always chosen by the server."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,1023}$")


class ObjectNotFound(LookupError):
    pass


def check_key(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"unsafe storage key: {key!r}")
    return key


@dataclass(frozen=True)
class UploadTarget:
    """Where a client PUTs one object itself, and the headers it must send with it."""

    url: str
    headers: dict[str, str]


class Storage(ABC):
    backend: str

    @abstractmethod
    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    @abstractmethod
    async def get(self, key: str) -> bytes: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def ping(self) -> None: ...

    @abstractmethod
    async def upload_target(
        self, key: str, *, content_type: str, size: int, expires_at: datetime
    ) -> UploadTarget:
        """A URL that accepts one PUT of ``key`` until ``expires_at``: exactly this type, at most ``size``
        bytes, and nothing else."""
