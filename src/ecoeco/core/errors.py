"""RFC 9457 problem details for every error the API returns.

Domain code raises :class:`ProblemError` (or a subclass); the handlers below turn it, FastAPI's own
validation errors and Starlette's HTTP errors into ``application/problem+json``. Unexpected exceptions
become a generic 500 whose body carries only the request id, logged once with their traceback by the
request middleware (ecoeco.observability.middleware).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ecoeco.core.text import TEXT_PATTERN

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://ecoeco.app/problems/"


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
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(
        request,
        exc.status_code,
        code=_STATUS_CODES.get(exc.status_code, "http-error"),
        detail=detail,
        headers=headers or None,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette names only the first route that matched
    the path, so ``OPTIONS /users/me`` claimed only GET where GET, PATCH and DELETE all exist."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, exc)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return problem_response(
        request, 422, code="validation-failed", detail="The request is not valid.", errors=errors
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)


# --- the OpenAPI document says what the handlers above send -----------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is a stable, machine-readable slug.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
    },
    "additionalProperties": True,
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}, "required": True}
}
# Status → (description, whether it carries Retry-After). Every operation may answer each of these.
_EVERY_OPERATION = {
    400: "Bad request (for example an invalid cursor).",
    401: "Sign-in required, or the credentials are not valid.",
    404: "Not found.",
    405: "Method not allowed.",
    408: "The request body did not arrive in time.",
    413: "The request body is too large.",
    422: "The request is not valid (RFC 9457 problem with the field errors).",
    429: "Too many requests; retry after Retry-After seconds.",
    503: "A dependency is unavailable; retry after Retry-After seconds.",
}
_WITH_BODY = {409: "Conflict with the current state.", 415: "Unsupported media type."}
_SECURED = {403: "Forbidden (for example a cookie-authenticated write without its CSRF token)."}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the problem+json answers every operation can give, next to its own: FastAPI documents only
    its 422, and as ``application/json`` with a schema our handlers never send."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                _document_text_rule(parameter.get("schema", {}))
            statuses = dict(_EVERY_OPERATION)
            if "requestBody" in operation:
                statuses |= _WITH_BODY
            if operation.get("security"):
                statuses |= _SECURED
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                entry = responses.setdefault(str(status), {"description": description})
                entry["content"] = problem
                if status in (429, 503):
                    entry["headers"] = _RETRY_AFTER
    return schema


def _document_text_rule(schema: dict[str, Any]) -> None:
    """Free-text path and query parameters follow ecoeco.core.text's rule (the middleware enforces it)."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            _document_text_rule(option.get("items", {}))
        elif option.get("type") == "string" and not {"pattern", "enum", "const", "format"} & option.keys():
            option["pattern"] = TEXT_PATTERN
