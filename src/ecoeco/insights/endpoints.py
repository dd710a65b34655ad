"""Community totals (no sign-in): anonymous counts per category, never for a group small enough to
single anyone out. A user's own weekly report is served under /users/me."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ecoeco.insights import service
from ecoeco.insights.schemas import CommunityStats
from ecoeco.runtime.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/stats", tags=["insights"])

# Scans carry no place, so the whole country is the one region there is figures for so far.
Region = Literal["kr"]


@router.get("/community", response_model=CommunityStats, summary="Scans per category in the last 7 days")
async def community(
    db: SessionDep,
    settings: SettingsDep,
    region: Annotated[Region, Query(description="Which area: `kr`, the whole country.")] = "kr",
) -> CommunityStats:
    return await service.community(db, region, min_group=settings.insights_min_group)
