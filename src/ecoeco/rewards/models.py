"""The one table of the rewards domain: which characters each account owns, and what earned them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecoeco.db.base import Base


class OwnedCharacter(Base):
    """A character in an account's collection.

    ``user_id`` has no foreign key on purpose: the mascot is granted by a ``user.created`` subscriber that
    may run before the one creating the ``users`` row in the same transaction; ``user.deleted`` erases
    these rows (rewards.service).

    ``day``/``slot`` number the earned characters of a Korean calendar day (1..the daily limit): the
    unique constraint lets two concurrent grants never both take the last slot.
    """

    __tablename__ = "rewards_owned"
    __table_args__ = (UniqueConstraint("user_id", "day", "slot", name="uq_rewards_owned_user_day_slot"),)

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    character_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The scan that earned it (None: the mascot, granted at sign-up); one reward per scan at most.
    scan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("waste_scans.id", ondelete="CASCADE"), unique=True
    )
    earned_at: Mapped[datetime]
    day: Mapped[date | None]
    slot: Mapped[int | None] = mapped_column(Integer)
