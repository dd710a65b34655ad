"""API models of the waste domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecoeco.core.api import API_PREFIX
from ecoeco.core.text import Text

ContentType = Literal["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"]
ScanStatus = Literal["queued", "processing", "done", "failed"]
SCANS_PATH = f"{API_PREFIX}/waste/scans"


def image_url(scan_id: uuid.UUID) -> str:
    return f"{SCANS_PATH}/{scan_id}/image"


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: ContentType
    size: int = Field(gt=0, description="Exact size of the image in bytes.")


class UploadTarget(BaseModel):
    upload_id: uuid.UUID
    method: Literal["PUT"] = "PUT"
    url: str
    headers: dict[str, str] = Field(description="Send these headers with the PUT, unchanged.")
    expires_at: datetime
    max_bytes: int


class ScanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upload_id: uuid.UUID | None = None
    question: Text | None = Field(default=None, min_length=1, max_length=500)


class ScanAccepted(BaseModel):
    scan_id: uuid.UUID
    status: ScanStatus
    status_url: str
    events_url: str


class ScanError(BaseModel):
    code: str
    message: str


class ScanView(BaseModel):
    id: uuid.UUID
    status: ScanStatus
    stage: str
    progress: int = Field(ge=0, le=100)
    question: str | None
    created_at: datetime
    completed_at: datetime | None
    cache_hit: bool
    result: dict[str, Any] | None = Field(
        default=None, description="Classification and disposal guide, once done."
    )
    error: ScanError | None = None
    feedback: FeedbackView | None = None
    image_url: str | None = Field(default=None, description="A small JPEG of the photo, if there was one.")


class ScanSummary(BaseModel):
    id: uuid.UUID
    status: ScanStatus
    created_at: datetime
    major: str | None
    middle: str | None
    item_id: str | None
    title: str | None = Field(default=None, description="Short name of what was recognised.")
    question: str | None = None
    image_url: str | None = Field(default=None, description="A small JPEG of the photo, if there was one.")


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    correct: bool
    item_id: Text | None = Field(default=None, max_length=80, description="The right item when not correct.")
    comment: Text | None = Field(default=None, max_length=1000)


class FeedbackView(BaseModel):
    correct: bool
    item_id: str | None
    comment: str | None
    created_at: datetime


class CategoryCount(BaseModel):
    major: str | None
    middle: str | None
    count: int


class ScanStats(BaseModel):
    total: int
    done: int
    failed: int
    by_category: list[CategoryCount]
    current_streak_days: int
    longest_streak_days: int
    last_scan_at: datetime | None
