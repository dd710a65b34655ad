"""One pure-ASGI middleware around every request: request ids, input limits, security headers, metrics, logs.

Pure ASGI (not ``BaseHTTPMiddleware``) because it sits on every request and must not cost a task switch or
buffer streamed responses such as Server-Sent Events. What it does, in order:

* a request id (the client's ``X-Request-ID`` if sane, else a fresh one) on the log context and response;
* refuses before the app runs: a percent-encoded NUL in the path or query (422, the one text rule of
  ``ecoeco.core.text``) and a declared body above the limit (413);
* while the app reads the body: the same size limit for chunked bodies, and a deadline for the whole body
  (408), so a client trickling bytes cannot keep a request (and whatever it holds) open for long;
* every response gets the security headers of ``ecoeco.core.headers`` it does not set itself;
* an exception nobody handled is logged once, here, and answered with a problem+json 500; a client that
  went away mid-request is not an error of ours and is logged quietly.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import time
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecoeco.core.errors import problem_response
from ecoeco.core.headers import security_headers
from ecoeco.core.text import url_has_nul
from ecoeco.observability.metrics import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("ecoeco.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_timeout_s: float = 60.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        https = scope.get("scheme") == "https"
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                sent = list(message.get("headers", []))
                message["headers"] = [
                    *sent,
                    (b"x-request-id", request_id.encode()),
                    *security_headers({name.lower() for name, _ in sent}, https=https),
                ]
                _latency(scope["method"], _route(scope)).observe(time.perf_counter() - started)
            await send(message)

        async def refuse(status_code: int, code: str, detail: str) -> None:
            await problem_response(
                None, status_code, code=code, detail=detail, request_id=request_id, instance=scope["path"]
            )(scope, receive, send_wrapper)

        declared = headers.get(b"content-length")
        try:
            if url_has_nul(scope.get("raw_path") or b"") or url_has_nul(scope.get("query_string", b"")):
                await refuse(422, "invalid-text", "Text must not contain NUL characters.")
                return
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                # Refuse before the app runs. Starlette's own limit refuses only when the body is read: an
                # endpoint that never reads it runs first and its answer becomes a plain-text 413.
                limit = self.max_body_bytes
                await refuse(413, "payload-too-large", f"The request body exceeds {limit} bytes.")
                return
            # Without a length or chunked framing a request has no body: nothing to limit.
            has_body = declared is not None or b"transfer-encoding" in headers
            HTTP_IN_FLIGHT.inc()
            try:
                await self.app(scope, self._limited(receive) if has_body else receive, send_wrapper)
            finally:
                HTTP_IN_FLIGHT.dec()
        except ClientDisconnect:
            status = 499  # nginx's name for it: nobody is left to answer
            log.info("client_disconnected", path=scope["path"])
        except Exception as exc:
            # The one place an unexpected error is logged (Starlette's outer middleware would log it again
            # and answer in plain text): the client gets a problem+json 500 carrying the request id only.
            log.exception("unhandled_error", path=scope["path"], exc_type=type(exc).__name__)
            if not response_started:
                await refuse(500, "internal-error", "Something went wrong on our side.")
        finally:
            route = _route(scope)
            _requests(scope["method"], route, status).inc()
            if scope["path"] not in _QUIET_PATHS:
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` with the body's size limit (chunked bodies carry no length: counted as they stream)
        and its deadline. The HTTPExceptions are re-raised by FastAPI's body parsing and rendered as
        problem+json by the error handlers."""
        received = 0
        body_done = False
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body only a disconnect can come: no deadline for that wait
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"The request body did not arrive within {self.body_timeout_s:g} seconds."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.max_body_bytes:
                    raise HTTPException(413, f"The request body exceeds {self.max_body_bytes} bytes.")
            return message

        return limited_receive


# The labelled series, looked up once per (method, route[, status]): labels() takes a lock and builds
# its key on every call. Routes are the app's templates plus "unmatched", so both stay small.
@functools.lru_cache(maxsize=4096)
def _latency(method: str, route: str) -> Any:
    return HTTP_LATENCY.labels(method, route)


@functools.lru_cache(maxsize=4096)
def _requests(method: str, route: str, status: int) -> Any:
    return HTTP_REQUESTS.labels(method, route, str(status))


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    # Unmatched paths share one label so scanners cannot blow up metric cardinality.
    return getattr(route, "path", None) or "unmatched"
