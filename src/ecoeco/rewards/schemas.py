"""API models of the rewards domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# Why a finished scan earned nothing (ABUSE.md explains each).
NoRewardReason = Literal[
    "question-only",
    "confirmed-cache",
    "question-assisted",
    "unsure",
    "not-recyclable",
    "preparation-left",
    "marked-wrong",
    "seen-before",
    "already-owned",
    "daily-limit",
]


class CharacterOut(BaseModel):
    id: str
    name: str
    category: str | None = Field(
        description="The recyclable kind (knowledge-base middle category); null: mascot."
    )
    mascot: bool
    intro: str
    lines: list[str]


class CharacterCatalog(BaseModel):
    version: str
    characters: list[CharacterOut] = Field(description="Every character, in the order the app shows them.")


class OwnedCharacterOut(BaseModel):
    character: CharacterOut
    earned_at: datetime
    scan_id: uuid.UUID | None = Field(description="The scan that earned it; null for the sign-up mascot.")


class Collection(BaseModel):
    owned: list[OwnedCharacterOut]
    total: int = Field(description="How many characters exist.")


class RewardOutcome(BaseModel):
    """What a finished scan earned: stored in its result (``reward``) and sent as its last SSE event."""

    earned: str | None = Field(description="The character id earned, or null.")
    name: str | None = None
    reason: NoRewardReason | None = Field(default=None, description="Why nothing was earned.")
