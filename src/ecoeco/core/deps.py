"""FastAPI dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ecoeco.cache import Cache
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from ecoeco.storage import Storage


def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # Commits after the endpoint returns but before the response is sent, so a failed commit is
    # reported to the client instead of being lost behind a 2xx.
    async with get_backends(request).db.session() as session:
        yield session


BackendsDep = Annotated[Backends, Depends(get_backends)]
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def _settings(request: Request) -> Settings:
    return get_backends(request).settings


def _cache(request: Request) -> Cache:
    return get_backends(request).cache


def _storage(request: Request) -> Storage:
    return get_backends(request).storage


SettingsDep = Annotated[Settings, Depends(_settings)]
CacheDep = Annotated[Cache, Depends(_cache)]
StorageDep = Annotated[Storage, Depends(_storage)]
