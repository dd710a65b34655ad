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


# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in a thread
# pool, and that hop costs more than everything else an authenticated cached read does.
async def _backends(request: Request) -> Backends:
    return get_backends(request)


BackendsDep = Annotated[Backends, Depends(_backends)]
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _settings(request: Request) -> Settings:
    return get_backends(request).settings


async def _cache(request: Request) -> Cache:
    return get_backends(request).cache


async def _storage(request: Request) -> Storage:
    return get_backends(request).storage


SettingsDep = Annotated[Settings, Depends(_settings)]
CacheDep = Annotated[Cache, Depends(_cache)]
StorageDep = Annotated[Storage, Depends(_storage)]
