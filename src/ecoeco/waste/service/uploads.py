"""Uploads: a client asks for a target, PUTs the image to the object store itself, then scans it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core.clock import utcnow
from ecoeco.core.errors import Conflict, NotFound, PayloadTooLarge, ProblemError
from ecoeco.runtime import Backends
from ecoeco.storage import ObjectNotFound
from ecoeco.waste import repository
from ecoeco.waste.models import Upload
from ecoeco.waste.schemas import UploadTarget

UPLOAD_TTL = timedelta(minutes=15)


async def create_upload(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, *, content_type: str, size: int
) -> UploadTarget:
    limit = backends.settings.image_max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"Images may be at most {limit} bytes.", code="image-too-large", max_bytes=limit
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


async def take_upload(
    session: AsyncSession, backends: Backends, user_id: uuid.UUID, upload_id: uuid.UUID
) -> tuple[bytes, str]:
    upload = await repository.get_upload(session, upload_id, for_update=True)
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
    upload.status = "consumed"
    return data, upload.content_type
