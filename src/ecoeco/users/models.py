"""The account table. Social identities and sessions hang off it (see ecoeco.auth.models)."""

from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ecoeco.db.base import Base, TimestampMixin

NICKNAME_MAX = 20


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    nickname: Mapped[str] = mapped_column(String(NICKNAME_MAX))
