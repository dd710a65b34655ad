"""Queue tables: transactional outbox, exactly-once ledger, embedded dead letters, daily stats.

Revision ID: queue_0001
Revises: base_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "queue_0001"
down_revision = "base_0001"
branch_labels = ("queue",)
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_outbox",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("available_at", TZ, nullable=False),
        sa.Column("published_at", TZ, nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_queue_outbox"),
        sa.UniqueConstraint("key", name="uq_queue_outbox_key"),
    )
    op.create_index("ix_queue_outbox_pending", "queue_outbox", ["published_at", "available_at"])
    op.create_table(
        "queue_task_runs",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("finished_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "outcome", name="pk_queue_task_runs"),
    )
    op.create_index("ix_queue_task_runs_finished_at", "queue_task_runs", ["finished_at"])
    op.create_table(
        "queue_dead_letters",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", TZ, nullable=False),
        sa.Column("failed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_dead_letters"),
    )
    op.create_index("ix_queue_dead_letters_task", "queue_dead_letters", ["task"])
    op.create_index("ix_queue_dead_letters_failed_at", "queue_dead_letters", ["failed_at"])
    op.create_table(
        "daily_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", name="pk_daily_stats"),
    )


def downgrade() -> None:
    op.drop_table("daily_stats")
    op.drop_table("queue_dead_letters")
    op.drop_table("queue_task_runs")
    op.drop_table("queue_outbox")
