"""rewards: the characters each account owns; the mascot for every existing account.

Revision ID: rewards_0001
Revises: base_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rewards_0001"
down_revision = "base_0001"
branch_labels = ("rewards",)
depends_on = ("waste_0001",)


def upgrade() -> None:
    op.create_table(
        "rewards_owned",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("character_id", sa.String(40), nullable=False),
        sa.Column("scan_id", sa.Uuid(), sa.ForeignKey("waste_scans.id", ondelete="CASCADE")),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date()),
        sa.Column("slot", sa.Integer()),
        sa.PrimaryKeyConstraint("user_id", "character_id", name=op.f("pk_rewards_owned")),
        sa.UniqueConstraint("scan_id", name=op.f("uq_rewards_owned_scan_id")),
        sa.UniqueConstraint("user_id", "day", "slot", name="uq_rewards_owned_user_day_slot"),
    )
    # Accounts opened before rewards existed get the mascot every new account gets at sign-up.
    op.execute(
        "INSERT INTO rewards_owned (user_id, character_id, earned_at) SELECT id, 'eco', created_at FROM users"
    )


def downgrade() -> None:
    op.drop_table("rewards_owned")
