"""RFC 9457 problem details for every error the API returns.

Domain code raises :class:`ProblemError` (or a subclass); the handlers below turn it, FastAPI's own
validation errors and Starlette's HTTP errors into ``application/problem+json``. Unexpected exceptions
become a generic 500 whose body carries only the request id; the traceback goes to the log.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://ecoeco.app/problems/"

log = structlog.get_logger(__name__)


class BundledDataError(RuntimeError):
    """Data shipped with the product is missing or damaged: the process refuses to start (exit code 2)."""


class ProblemError(Exception):
    """An error the client can act on. ``code`` is a stable, machine-readable slug."""

    status: int = 400
    code: str = "bad-request"
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extra = extra


class NotFound(ProblemError):
    status = 404
    code = "not-found"


class Unauthorized(ProblemError):
    status = 401
    code = "unauthorized"

    def __init__(self, detail: str = "Authentication is required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status = 403
    code = "forbidden"


class Conflict(ProblemError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload-too-large"


class UnsupportedMediaType(ProblemError):
    status = 415
    code = "unsupported-media-type"


class Unprocessable(ProblemError):
    status = 422
    code = "unprocessable"


class TooManyRequests(ProblemError):
    status = 429
    code = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail, **kw)


class ServiceUnavailable(ProblemError):
    status = 503
    code = "service-unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(detail, **kw)


def problem_response(
    request: Request | None,
    status: int,
    *,
    code: str,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


_STATUS_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "rate-limited",
    503: "service-unavailable",
}


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(ProblemError, exc)  # registered for ProblemError only
    return problem_response(
        request,
        exc.status,
        code=exc.code,
        detail=exc.detail,
        title=exc.title,
        headers=exc.headers,
        **exc.extra,
    )


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, exc)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(
        request,
        exc.status_code,
        code=_STATUS_CODES.get(exc.status_code, "http-error"),
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, exc)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem_response(
        request, 422, code="validation-failed", detail="The request is not valid.", errors=errors
    )


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, exc_type=type(exc).__name__)
    return problem_response(request, 500, code="internal-error", detail="Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(Exception, _unhandled_handler)
