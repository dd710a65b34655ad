"""API models of the insights domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

WEEK_PATTERN = r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"
Week = Annotated[str, StringConstraints(pattern=WEEK_PATTERN)]


class CategoryCount(BaseModel):
    category: str = Field(description="A middle category of the knowledge base.")
    count: int


class MissedStep(BaseModel):
    tag: str = Field(description="The situation tag whose preparation step was left to do.")
    count: int


class WeeklyReportOut(BaseModel):
    week: str = Field(description="ISO week in Korean time, e.g. 2026-W49 (Monday to Sunday).")
    scans: int = Field(description="Scans answered that week.")
    by_category: list[CategoryCount]
    missed_steps: list[MissedStep] = Field(
        description="The preparation steps most often left to do, most first."
    )
    streak_days: int = Field(description="Consecutive days with a scan, up to the week's last day.")
    characters: list[str] = Field(description="Characters earned that week (ids of /rewards/characters).")
    created_at: datetime


class CommunityCategory(BaseModel):
    category: str
    scans: int
    people: int


class CommunityStats(BaseModel):
    region: str
    since: datetime
    until: datetime
    min_group: int = Field(description="Categories scanned by fewer people than this are left out.")
    categories: list[CommunityCategory]
