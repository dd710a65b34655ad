"""The signed-in user's own account. There is no way to address another user's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ecoeco.auth.deps import CurrentUser
from ecoeco.core.language import LangDep
from ecoeco.core.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from ecoeco.insights import service as insights
from ecoeco.insights.schemas import Week, WeeklyReportOut
from ecoeco.rewards import service as rewards
from ecoeco.rewards.schemas import Collection
from ecoeco.runtime.deps import CacheDep, SessionDep, SettingsDep, get_backends
from ecoeco.users import service
from ecoeco.users.schemas import UserOut, UserPatch
from ecoeco.waste.schemas import ScanStats, ScanSummary
from ecoeco.waste.service import history as waste_history

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut, summary="My profile")
async def get_me(principal: CurrentUser, request: Request) -> Response:
    # The backends straight from the request, not as one more dependency: FastAPI's solving of each
    # costs more than this whole cached read.
    body = await service.profile_json(get_backends(request), principal.user_id)
    return Response(body, media_type="application/json")


@router.patch("/me", response_model=UserOut, summary="Change my profile (nickname)")
async def patch_me(principal: CurrentUser, body: UserPatch, db: SessionDep, cache: CacheDep) -> UserOut:
    return await service.update_profile(db, cache, principal.user_id, body)


@router.delete("/me", status_code=204, summary="Delete my account and everything personal in it")
async def delete_me(
    principal: CurrentUser, db: SessionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    await service.delete_account(db, cache, settings, principal.user_id)
    return Response(status_code=204)


# History and statistics are the waste domain's data, served here because they belong to "me".
@router.get("/me/scans", response_model=Page[ScanSummary], summary="My scan history, newest first")
async def my_scans(
    principal: CurrentUser,
    db: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ScanSummary]:
    return await waste_history.history(db, principal.user_id, cursor=cursor, limit=limit)


@router.get("/me/stats", response_model=ScanStats, summary="My scan counts by category and streaks")
async def my_stats(principal: CurrentUser, db: SessionDep) -> ScanStats:
    return await waste_history.stats(db, principal.user_id)


@router.get(
    "/me/characters", response_model=Collection, summary="The characters I own, when and by which scan"
)
async def my_characters(principal: CurrentUser, db: SessionDep, lang: LangDep) -> Collection:
    return await rewards.collection(db, principal.user_id, lang)


@router.get("/me/reports/weekly", response_model=WeeklyReportOut, summary="My weekly report")
async def my_weekly_report(
    principal: CurrentUser,
    db: SessionDep,
    week: Annotated[
        Week | None, Query(description="ISO week in Korean time, e.g. 2026-W49; default: last week.")
    ] = None,
) -> WeeklyReportOut:
    return await insights.weekly_report(db, principal.user_id, week)
