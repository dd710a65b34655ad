"""Erasing a deleted account's scans, uploads and images."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.core import events as domain_events
from ecoeco.queue import enqueue
from ecoeco.waste import repository
from ecoeco.waste.tasks import delete_images


@domain_events.subscribe(domain_events.USER_DELETED)
async def _erase_user(session: AsyncSession, payload: dict[str, Any]) -> None:
    """Erase a deleted account's scans and uploads now, and its images by a job that runs only if the
    deletion commits (the object store is not part of the transaction)."""
    user_id = payload["user_id"]
    keys = await repository.user_image_keys(session, user_id)
    await repository.delete_user_data(session, user_id)
    if keys:
        await enqueue(session, delete_images, keys=keys, key=f"erase-images:{user_id}")
