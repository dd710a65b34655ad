"""waste: uploads, scans, scan events, feedback, confirmed images.

Revision ID: waste_0001
Revises: base_0001
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "waste_0001"
down_revision = "base_0001"
branch_labels = ("waste",)
depends_on = ("users_0001",)


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _user_fk() -> sa.Column[uuid.UUID]:
    return sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def _scan_fk(*, primary_key: bool = False) -> sa.Column[uuid.UUID]:
    return sa.Column(
        "scan_id",
        sa.Uuid(),
        sa.ForeignKey("waste_scans.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "waste_uploads",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _user_fk(),
        sa.Column("object_key", sa.String(200), nullable=False, unique=True),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_waste_uploads_user_id", "waste_uploads", ["user_id"])
    op.create_table(
        "waste_scans",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _user_fk(),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("question", sa.Text()),
        sa.Column("lang", sa.String(5), nullable=False),
        sa.Column("image_key", sa.String(200)),
        sa.Column("image_hash", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(24), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("major", sa.String(40)),
        sa.Column("middle", sa.String(40)),
        sa.Column("item_id", sa.String(80)),
        sa.Column("result", sa.JSON()),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(80)),
        sa.Column("usage", sa.JSON()),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error_message", sa.Text()),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_waste_scans_user_idem"),
    )
    op.create_index("ix_waste_scans_user_created", "waste_scans", ["user_id", "created_at", "id"])
    op.create_index("ix_waste_scans_image_hash", "waste_scans", ["image_hash"])
    op.create_table(
        "waste_scan_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        _scan_fk(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("scan_id", "seq", name="uq_waste_scan_events_scan_seq"),
    )
    op.create_table(
        "waste_feedback",
        _scan_fk(primary_key=True),
        _user_fk(),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("item_id", sa.String(80)),
        sa.Column("comment", sa.Text()),
        *_timestamps(),
    )
    op.create_index("ix_waste_feedback_user_id", "waste_feedback", ["user_id"])
    op.create_table(
        "waste_confirmed_images",
        _scan_fk(primary_key=True),
        _user_fk(),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("image_hash", sa.String(16), nullable=False),
        *(sa.Column(f"band{i}", sa.String(4), nullable=False) for i in range(4)),
        sa.Column("major", sa.String(40), nullable=False),
        sa.Column("middle", sa.String(40)),
        sa.Column("item_id", sa.String(80)),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_waste_confirmed_images_user_id", "waste_confirmed_images", ["user_id"])
    for i in range(4):
        op.create_index(f"ix_waste_confirmed_images_band{i}", "waste_confirmed_images", [f"band{i}"])


def downgrade() -> None:
    for table in (
        "waste_confirmed_images",
        "waste_feedback",
        "waste_scan_events",
        "waste_scans",
        "waste_uploads",
    ):
        op.drop_table(table)
