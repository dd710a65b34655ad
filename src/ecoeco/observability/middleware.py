"""One pure-ASGI middleware for request ids, body-size limits, metrics and access logs.

Pure ASGI (not ``BaseHTTPMiddleware``) because it sits on every request and must not cost a task
switch or buffer streamed responses such as Server-Sent Events.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecoeco.core.errors import problem_response
from ecoeco.observability.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("ecoeco.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            # Refuse before the app runs. Starlette's own limit (max_body_size) refuses only when the body
            # is read: an endpoint that never reads it runs first and its answer becomes a plain-text 413.
            response = problem_response(
                None,
                413,
                code="payload-too-large",
                detail=f"The request body exceeds {self.max_body_bytes} bytes.",
                request_id=request_id,
                instance=scope["path"],
            )
            response.headers["x-request-id"] = request_id
            await response(scope, receive, send)
            structlog.contextvars.unbind_contextvars("request_id")
            return

        received = 0

        async def limited_receive() -> Message:
            # Chunked bodies carry no length: count as they stream. HTTPException is re-raised by
            # FastAPI's body parsing and rendered as problem+json by the error handlers.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, f"The request body exceeds {self.max_body_bytes} bytes.")
            return message

        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                HTTP_LATENCY.labels(scope["method"], _route(scope)).observe(time.perf_counter() - started)
            await send(message)

        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, limited_receive, send_wrapper)
        finally:
            HTTP_IN_FLIGHT.dec()
            route = _route(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            if scope["path"] not in _QUIET_PATHS:
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    # Unmatched paths share one label so scanners cannot blow up metric cardinality.
    return getattr(route, "path", None) or "unmatched"
