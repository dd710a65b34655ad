"""Tables of the insights domain: weekly reports, and the checkpoints of the jobs that write them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoeco.core.clock import utcnow
from ecoeco.db.base import Base


class WeeklyReport(Base):
    """One user's week (ISO week in Korean time, ``2026-W49``); written once per user and week."""

    __tablename__ = "insights_weekly_reports"

    # No foreign key, like rewards_owned: erased by the ``user.deleted`` subscriber (insights.service).
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobCheckpoint(Base):
    """How far a batch job got for one period: users are processed in id order, so the last id done is
    where a re-run (after the worker died) resumes."""

    __tablename__ = "insights_job_checkpoints"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_user_id: Mapped[uuid.UUID | None]
    processed: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
