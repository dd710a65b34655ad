"""Uploads: a client asks for a target, PUTs the image to the object store itself, then scans it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import utcnow
from ecoeco.core.errors import Conflict, NotFound, PayloadTooLarge, ProblemError, TooManyRequests
from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.waste import repository
from ecoeco.waste.models import Upload
from ecoeco.waste.schemas import UploadTarget

UPLOAD_TTL = timedelta(minutes=15)


# Upload targets a user may hold open at once: a phone needs one per photo in flight, and every open one is
# a URL anyone holding it can send a slow body to.
MAX_OPEN_UPLOADS = 10


async def create_upload(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, *, content_type: str, size: int
) -> UploadTarget:
    limit = backends.settings.image_max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"Images may be at most {limit} bytes.", code="image-too-large", max_bytes=limit
        )
    if await repository.open_uploads(session, user_id, now=utcnow()) >= MAX_OPEN_UPLOADS:
        raise TooManyRequests(
            f"At most {MAX_OPEN_UPLOADS} uploads may be open at once; scan or let some expire first.",
            retry_after=60,
            code="too-many-open-uploads",
        )
    upload = Upload(
        id=uuid.uuid4(),
        user_id=user_id,
        content_type=content_type,
        size=size,
        expires_at=utcnow() + UPLOAD_TTL,
        status="pending",
    )
    upload.object_key = f"uploads/{user_id}/{upload.id}"
    await repository.add_upload(session, upload)
    target = await backends.storage.upload_target(
        upload.object_key, content_type=content_type, size=size, expires_at=upload.expires_at
    )
    return UploadTarget(
        upload_id=upload.id,
        url=target.url,
        headers=target.headers,
        expires_at=upload.expires_at,
        max_bytes=size,
    )


@dataclass(frozen=True)
class TakenUpload:
    id: uuid.UUID
    data: bytes
    content_type: str
    object_key: str  # the original, deleted once its re-encoded copy is stored


async def read_upload(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, upload_id: uuid.UUID
) -> TakenUpload:
    """The uploaded bytes, checked; nothing written yet (see :func:`consume`), so the image can be decoded
    before the request takes the database's write lock."""
    upload = await repository.get_upload(session, upload_id)
    # Another user's upload is reported exactly like a missing one: ids must not be probeable.
    if upload is None or upload.user_id != user_id:
        raise NotFound("No such upload.", code="upload-not-found")
    if upload.status == "consumed":
        raise Conflict("This upload was already used for a scan.", code="upload-already-used")
    if upload.expires_at < utcnow():
        raise ProblemError(
            "The upload has expired; upload the image again.", status=410, code="upload-expired"
        )
    try:
        data = await backends.storage.get(upload.object_key)
    except ObjectNotFound as exc:
        raise ProblemError(
            "Nothing was uploaded to this upload URL yet.", status=409, code="upload-missing"
        ) from exc
    if len(data) > upload.size:
        raise PayloadTooLarge("The uploaded image is larger than announced.", code="upload-too-large")
    return TakenUpload(upload.id, data, upload.content_type, upload.object_key)


async def consume(session: AsyncSession, upload: TakenUpload) -> None:
    """Use the upload up, once: of concurrent scans of one upload, all but one get 409."""
    if not await repository.consume_upload(session, upload.id):
        raise Conflict("This upload was already used for a scan.", code="upload-already-used")
