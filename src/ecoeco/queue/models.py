"""Tables of the queue: the transactional outbox, the exactly-once ledger, embedded dead letters, stats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecoeco.core.clock import utcnow
from ecoeco.db.base import Base


class OutboxRow(Base):
    """A task enqueued inside a business transaction.

    Distributed: the relay publishes it after commit and stamps ``published_at`` once the broker
    confirmed it. Embedded: this row *is* the queue entry; ``published_at`` marks it finished. Rows are
    kept for a retention period after that so an idempotency ``key`` seen twice still makes one job.
    """

    __tablename__ = "queue_outbox"
    __table_args__ = (Index("ix_queue_outbox_pending", "published_at", "available_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task: Mapped[str] = mapped_column(String(200))
    routing_key: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    available_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Embedded executor bookkeeping (unused by the relay).
    deliveries: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class TaskRun(Base):
    """Written in the same transaction as a task's database effects: a second run of the same task id
    finds its row and rolls back instead of applying the effects again."""

    __tablename__ = "queue_task_runs"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)  # "done" | "dead"
    task: Mapped[str] = mapped_column(String(200))
    finished_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class DeadLetterRow(Base):
    """Embedded mode's ``q.dlq``."""

    __tablename__ = "queue_dead_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task: Mapped[str] = mapped_column(String(200), index=True)
    routing_key: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class DailyStat(Base):
    """One number per KST day and metric, written (idempotently) by the daily stats job."""

    __tablename__ = "daily_stats"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
