from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ecoeco.core.errors import problem_response
from ecoeco.runtime import Backends

router = APIRouter(include_in_schema=False)
# Mounted on the public listener only when no metrics port of its own is configured (ecoeco.app).
metrics_router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    # Liveness only: a dependency outage must not make Kubernetes restart healthy pods.
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    backends: Backends = request.app.state.backends
    probes = await backends.probe()
    checks = {p.name: p.as_dict() for p in probes}
    failed = [p.name for p in probes if not p.ok]
    optional = set(backends.settings.ready_optional)
    if all(name in optional for name in failed):
        status = "degraded" if failed else "ready"
        return JSONResponse({"status": status, "degraded": failed, "checks": checks})
    return problem_response(
        request,
        503,
        code="dependency-unavailable",
        detail="Not ready: " + ", ".join(failed) + " unreachable.",
        headers={"Retry-After": "5"},
        failed=failed,
        checks=checks,
    )


@metrics_router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
