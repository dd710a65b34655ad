"""FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from ecoeco import __version__
from ecoeco.auth.deps import document_security
from ecoeco.cache import outage_errors as cache_outage_errors
from ecoeco.core import pagination
from ecoeco.core.api import API_PREFIX
from ecoeco.core.errors import document_problems, install_error_handlers, problem_response
from ecoeco.domains import DOMAINS, domain_modules
from ecoeco.observability.middleware import RequestContextMiddleware
from ecoeco.ops.endpoints import metrics_router
from ecoeco.ops.endpoints import router as ops_router
from ecoeco.runtime import Backends
from ecoeco.settings import Settings, get_settings
from ecoeco.storage.local import router as local_storage_router
from ecoeco.web import SERVICE as WEB_SERVICE
from ecoeco.web import mount as mount_web

# Small domains served by another's Deployment (its ingress routes their prefixes there too).
SERVED_WITH: dict[str, tuple[str, ...]] = {"users": ("rewards", "insights")}

# Hooks run inside the lifespan after the backends exist (e.g. embedded workers); registered by `ecoeco up`.
LifespanHook = Callable[[FastAPI], Awaitable[Callable[[], Awaitable[None]]]]


def create_app(
    settings: Settings | None = None,
    *,
    services: tuple[str, ...] | None = None,
    backends: Backends | None = None,
    hooks: tuple[LifespanHook, ...] = (),
    public_metrics: bool = True,
) -> FastAPI:
    """Build the app. ``services`` limits which domain routers are mounted (one Deployment each);
    ``public_metrics`` off leaves /metrics to a listener of its own (``ecoeco serve --metrics-port``)."""
    settings = settings or get_settings()
    settings.check_production_safety()
    pagination.use_secret(settings.secret_key.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backends = backends or Backends.from_settings(settings)
        stops = [await hook(app) for hook in hooks]
        try:
            yield
        finally:
            for stop in reversed(stops):
                await stop()
            if backends is None:
                await app.state.backends.aclose()

    app = FastAPI(
        title="ecoeco",
        version=__version__,
        summary="Scan an item, learn how to dispose of it under Korean 분리배출 rules.",
        lifespan=lifespan,
        docs_url=None,  # ecoeco.web serves /docs from local files, under a strict CSP
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs_enabled else None,
    )
    install_error_handlers(app)
    _document_problems(app)
    app.add_exception_handler(sqlalchemy.exc.OperationalError, _dependency_down("database"))
    app.add_exception_handler(sqlalchemy.exc.InterfaceError, _dependency_down("database"))
    # Every pooled connection busy for pool_timeout: the database is overloaded, which is ours to say.
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, _dependency_down("database"))
    # A refused or timed-out connection that no driver wrapped (asyncpg's connect raises OSError as it is):
    # some dependency is down, which is a 503 like the ones above.
    app.add_exception_handler(ConnectionError, _dependency_down("backend"))
    app.add_exception_handler(TimeoutError, _dependency_down("backend"))
    for error in cache_outage_errors(settings.redis_url):
        app.add_exception_handler(error, _dependency_down("cache"))
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
    )

    wanted = set(services) if services else set(DOMAINS)
    wanted |= {extra for service in tuple(wanted) for extra in SERVED_WITH.get(service, ())}
    for module in domain_modules("endpoints"):
        domain = module.__name__.split(".")[1]
        if domain in wanted:
            # Mounted straight on the app (not under a shared /api/v1 router): one level less of
            # router matching on every request.
            app.include_router(module.router, prefix=API_PREFIX)
            _skip_unless_under(app.router.routes[-1], API_PREFIX + module.router.prefix)
    # After the API (no path of these is under /api/v1): an API request need not try them first.
    app.include_router(ops_router)
    if public_metrics:
        app.include_router(metrics_router)
    app.include_router(local_storage_router)  # embedded mode's stand-in for S3's pre-signed PUT
    mount_web(app, settings, ui=services is None or WEB_SERVICE in wanted)
    return app


def _skip_unless_under(route: BaseRoute, prefix: str) -> None:
    """Let an included router answer "no match" at once for a path outside its prefix.

    FastAPI tries an included router's routes one by one, twice for the one that matches, at about 1.5 µs
    each: an API request paid for every route of the domains mounted before its own (35 µs for
    /users/me). The path contains the prefix whenever a route of the router can match (the route path,
    without any root_path, starts with it), so this only skips what could not match anyway.
    """
    matches = route.matches

    def guarded(scope: Scope) -> tuple[Match, Scope]:
        return matches(scope) if prefix in scope["path"] else (Match.NONE, {})

    route.matches = guarded  # type: ignore[method-assign]


def _document_problems(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_security(document_problems(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _dependency_down(name: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            request,
            503,
            code="dependency-unavailable",
            detail=f"The {name} is unavailable; please retry shortly."
            if name != "backend"
            else "A service this request needs is unavailable; please retry shortly.",
            headers={"Retry-After": "5"},
            dependency=name,
        )

    return handler
