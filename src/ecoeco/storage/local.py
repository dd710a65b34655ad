"""The embedded storage adapter: a local directory, and its stand-in for S3's pre-signed PUT.

With no S3 there is no one else to accept a client's upload, so this adapter signs its own URLs (an HMAC
over the key, content type, size cap and expiry, checked in constant time) and serves them with one route
of its own, ``PUT /api/v1/storage/{key}``, which the app mounts next to the domains' routers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from ecoeco.core.api import API_PREFIX
from ecoeco.core.clock import clock
from ecoeco.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ProblemError
from ecoeco.storage.base import ObjectNotFound, Storage, UploadTarget, check_key

UPLOAD_PATH = f"{API_PREFIX}/storage"
SIGNATURE_VERSION = "v1"


class LocalStorage(Storage):
    backend = "local"

    def __init__(self, root: Path, *, public_url: str, secret: str) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")
        # Domain-separated key so this MAC can never be confused with another use of the server secret.
        self._key = hashlib.sha256(b"ecoeco-upload-url:" + secret.encode()).digest()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(key), data, replace=True)

    @staticmethod
    def _write(path: Path, data: bytes, *, replace: bool) -> bool:
        """Write-then-rename (or link) so a reader never sees a half-written object; False if ``path``
        exists and ``replace`` is off."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            if replace:
                os.replace(tmp, path)
                return True
            try:
                os.link(tmp, path)  # atomic and refuses an existing name: two PUTs cannot both win
            except FileExistsError:
                return False
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def ping(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError(f"{self.root} is not writable")

        await asyncio.to_thread(probe)

    # --- the signed upload URL --------------------------------------------------------------------

    def _mac(self, key: str, content_type: str, size: int, expires: int) -> str:
        message = "|".join((SIGNATURE_VERSION, key, content_type, str(size), str(expires))).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def upload_target(
        self, key: str, *, content_type: str, size: int, expires_at: datetime
    ) -> UploadTarget:
        expires = int(expires_at.timestamp())
        query = {
            "content_type": content_type,
            "size": size,
            "expires": expires,
            "sig": self._mac(check_key(key), content_type, size, expires),
        }
        return UploadTarget(
            url=f"{self.public_url}{UPLOAD_PATH}/{key}?{urlencode(query)}",
            headers={"Content-Type": content_type},
        )

    async def receive(
        self,
        key: str,
        *,
        content_type: str,
        size: int,
        expires: int,
        signature: str,
        sent_type: str | None,
        body: AsyncIterator[bytes],
    ) -> None:
        """Accept one PUT to a URL of :meth:`upload_target`: the same checks S3 makes, as problems."""
        if not hmac.compare_digest(self._mac(key, content_type, size, expires), signature):
            raise Forbidden("The upload URL is not valid.", code="upload-signature-invalid")
        if clock.now().timestamp() > expires:
            raise ProblemError(
                "The upload URL has expired; ask for a new one.", status=403, code="upload-url-expired"
            )
        if sent_type != content_type:
            raise ProblemError(
                f"This upload URL is for {content_type}.", status=415, code="upload-content-type-mismatch"
            )
        data = bytearray()
        async for chunk in body:
            data += chunk
            if len(data) > size:
                raise PayloadTooLarge(
                    f"This upload URL accepts at most {size} bytes.", code="upload-too-large"
                )
        if not await asyncio.to_thread(self._write, self._path(key), bytes(data), replace=False):
            raise Conflict("This upload URL was already used.", code="upload-already-used")


router = APIRouter(include_in_schema=False)


@router.put(UPLOAD_PATH + "/{key:path}", status_code=204)
async def receive_upload(
    key: str,
    request: Request,
    content_type: Annotated[str, Query(max_length=200)],
    size: Annotated[int, Query(ge=0)],
    expires: int,
    sig: Annotated[str, Query(max_length=128)],
) -> Response:
    """The signed URL is the credential: no sign-in needed."""
    storage = request.app.state.backends.storage
    if not isinstance(storage, LocalStorage):  # with S3, clients upload there, never here
        raise NotFound("No such upload.", code="upload-not-found")
    await storage.receive(
        key,
        content_type=content_type,
        size=size,
        expires=expires,
        signature=sig,
        sent_type=request.headers.get("content-type"),
        body=request.stream(),
    )
    return Response(status_code=204)
