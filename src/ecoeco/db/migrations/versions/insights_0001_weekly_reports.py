"""insights: weekly reports and batch-job checkpoints.

Revision ID: insights_0001
Revises: base_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "insights_0001"
down_revision = "base_0001"
branch_labels = ("insights",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insights_weekly_reports",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "week", name=op.f("pk_insights_weekly_reports")),
    )
    op.create_table(
        "insights_job_checkpoints",
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("last_user_id", sa.Uuid()),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", "period", name=op.f("pk_insights_job_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("insights_job_checkpoints")
    op.drop_table("insights_weekly_reports")
