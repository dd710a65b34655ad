"""Tables of the waste domain: uploads, scans, their progress events, feedback, confirmed results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoeco.core.clock import utcnow
from ecoeco.db.base import Base, TimestampMixin


class Upload(TimestampMixin, Base):
    """A pre-signed upload target handed to one user for one image."""

    __tablename__ = "waste_uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    object_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    # pending → consumed (turned into a scan); the object store alone knows whether it was PUT yet
    status: Mapped[str] = mapped_column(String(16), default="pending")


class Scan(TimestampMixin, Base):
    __tablename__ = "waste_scans"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_waste_scans_user_idem"),
        Index("ix_waste_scans_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Fingerprint of the request that created the scan, to refuse a reused key with another payload.
    request_hash: Mapped[str] = mapped_column(String(64))
    question: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(5), default="ko")
    image_key: Mapped[str | None] = mapped_column(String(200))
    image_hash: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|processing|done|failed
    stage: Mapped[str] = mapped_column(String(24), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # Number of the scan's last event; bumped by the same UPDATE that records a stage.
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    major: Mapped[str | None] = mapped_column(String(40))
    middle: Mapped[str | None] = mapped_column(String(40))
    item_id: Mapped[str | None] = mapped_column(String(80))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cache_hit: Mapped[bool] = mapped_column(default=False)
    model: Mapped[str | None] = mapped_column(String(80))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]


class ScanEvent(Base):
    """Every progress step of a scan, kept so a late or reconnecting SSE client misses nothing."""

    __tablename__ = "waste_scan_events"
    __table_args__ = (UniqueConstraint("scan_id", "seq", name="uq_waste_scan_events_scan_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waste_scans.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(TimestampMixin, Base):
    __tablename__ = "waste_feedback"

    scan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("waste_scans.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    correct: Mapped[bool]
    item_id: Mapped[str | None] = mapped_column(String(80))
    comment: Mapped[str | None] = mapped_column(Text)


class ConfirmedImage(Base):
    """A perceptual hash whose classification a user confirmed (or corrected).

    A confirmed model answer is ``shared``: serving it again to anyone is no worse than the model.
    A user's own correction is served back to that user only, so nobody can poison others' answers.

    The 64-bit hash is split into four 16-bit bands: two hashes within Hamming distance 3 share at
    least one band exactly (pigeonhole), so near-duplicate lookup is four indexed equality probes.
    """

    __tablename__ = "waste_confirmed_images"

    scan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("waste_scans.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool]
    image_hash: Mapped[str] = mapped_column(String(16))
    band0: Mapped[str] = mapped_column(String(4), index=True)
    band1: Mapped[str] = mapped_column(String(4), index=True)
    band2: Mapped[str] = mapped_column(String(4), index=True)
    band3: Mapped[str] = mapped_column(String(4), index=True)
    major: Mapped[str] = mapped_column(String(40))
    middle: Mapped[str | None] = mapped_column(String(40))
    item_id: Mapped[str | None] = mapped_column(String(80))
    tags: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def hash_bands(phash: str) -> tuple[str, str, str, str]:
    """A perceptual hash cut into the four bands ``ConfirmedImage`` indexes: a near-duplicate (a few
    differing bits) still matches at least one band exactly."""
    return (phash[0:4], phash[4:8], phash[8:12], phash[12:16])
