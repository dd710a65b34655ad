"""The signed-in user's own account. There is no way to address another user's."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ecoeco.auth.deps import CurrentUser
from ecoeco.core.deps import CacheDep, SessionDep, SettingsDep
from ecoeco.users import service
from ecoeco.users.schemas import UserOut, UserPatch

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut, summary="My profile")
async def get_me(principal: CurrentUser, db: SessionDep, cache: CacheDep, settings: SettingsDep) -> UserOut:
    return await service.get_profile(db, cache, settings, principal.user_id)


@router.patch("/me", response_model=UserOut, summary="Change my profile (nickname)")
async def patch_me(principal: CurrentUser, body: UserPatch, db: SessionDep, cache: CacheDep) -> UserOut:
    return await service.update_profile(db, cache, principal.user_id, body)


@router.delete("/me", status_code=204, summary="Delete my account and everything personal in it")
async def delete_me(
    principal: CurrentUser, db: SessionDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    await service.delete_account(db, cache, settings, principal.user_id)
    return Response(status_code=204)
