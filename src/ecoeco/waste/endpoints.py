"""HTTP API of the waste domain: uploads, scans, live progress, feedback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from starlette.datastructures import UploadFile

from ecoeco.auth.deps import CurrentUser
from ecoeco.core.api import API_PREFIX
from ecoeco.core.errors import ProblemError, Unprocessable, UnsupportedMediaType
from ecoeco.core.language import LangDep
from ecoeco.core.text import is_text
from ecoeco.runtime.deps import BackendsDep, SessionDep
from ecoeco.waste import live, progress
from ecoeco.waste.schemas import (
    FeedbackCreate,
    FeedbackView,
    ScanAccepted,
    ScanCreate,
    ScanView,
    UploadRequest,
    UploadTarget,
)
from ecoeco.waste.service import feedback, scans, uploads

router = APIRouter(prefix="/waste", tags=["waste"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="Retry-safe key; same key, same scan."),
]
_POLL_AGAIN = {"Retry-After": "1"}


@router.post("/uploads", status_code=status.HTTP_201_CREATED)
async def create_upload(
    body: UploadRequest, user: CurrentUser, session: SessionDep, backends: BackendsDep
) -> UploadTarget:
    """A pre-signed PUT target for one image of the announced type and size, valid for 15 minutes."""
    return await uploads.create_upload(
        session, backends, user.user_id, content_type=body.content_type, size=body.size
    )


@router.post(
    "/scans",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScanAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ScanCreate.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": {"type": "string", "format": "binary"},
                            "question": {"type": "string", "maxLength": 500},
                        },
                    }
                },
            },
        }
    },
)
async def create_scan(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    backends: BackendsDep,
    lang: LangDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Start a scan from an upload id, a multipart image and/or a question. Answers at once with 202."""
    upload_id, image, image_type, question = await _read_scan_request(request)
    intake = await scans.create_scan(
        session,
        backends,
        user.user_id,
        upload_id=upload_id,
        image=image,
        image_type=image_type,
        question=question,
        lang=lang,
        idempotency_key=idempotency_key,
    )
    scan = intake.scan
    base = f"{request.scope.get('root_path', '')}{API_PREFIX}{router.prefix}/scans/{scan.id}"
    body = ScanAccepted(scan_id=scan.id, status=scan.status, status_url=base, events_url=f"{base}/events")
    headers = {"Location": base}
    if not intake.created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body.model_dump(mode="json"), status_code=202, headers=headers)


async def _read_scan_request(
    request: Request,
) -> tuple[uuid.UUID | None, bytes | None, str | None, str | None]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            payload = ScanCreate.model_validate_json(await request.body())
        except ValueError as exc:
            raise Unprocessable(
                "The request body is not a valid scan request.", code="validation-failed"
            ) from exc
        return payload.upload_id, None, None, payload.question
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4)
        image = form.get("image")
        question = form.get("question")
        if image is not None and not isinstance(image, UploadFile):
            raise Unprocessable("'image' must be a file.", code="validation-failed")
        if question is not None and (not isinstance(question, str) or not 1 <= len(question) <= 500):
            raise Unprocessable("'question' must be 1 to 500 characters.", code="validation-failed")
        if question is not None and not is_text(question):
            raise Unprocessable("'question' must not contain NUL characters.", code="invalid-text")
        data = await image.read() if image is not None else None
        return None, data, image.content_type if image is not None else None, question
    raise UnsupportedMediaType("Send JSON or multipart/form-data.", code="unsupported-media-type")


@router.get("/scans/{scan_id}", response_model=ScanView, responses={202: {"model": ScanView}})
async def get_scan(scan_id: uuid.UUID, user: CurrentUser, backends: BackendsDep) -> Response:
    """200 with the result once done (or failed); 202 with stage and progress while running."""
    running = await live.running_body(backends.cache, user.user_id, scan_id)
    if running is not None:
        return Response(running, status_code=202, media_type="application/json", headers=_POLL_AGAIN)
    async with backends.db.session() as session:
        view = await scans.get_scan(session, user.user_id, scan_id)
    if view.status in progress.TERMINAL:
        return JSONResponse(view.model_dump(mode="json"))
    return JSONResponse(view.model_dump(mode="json"), status_code=202, headers=_POLL_AGAIN)


@router.get(
    "/scans/{scan_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A thumbnail of the scan's photo"}},
)
async def get_scan_image(
    scan_id: uuid.UUID, user: CurrentUser, session: SessionDep, backends: BackendsDep
) -> Response:
    """A small JPEG of the photo (the stored, metadata-free copy), for history lists."""
    data = await scans.scan_thumbnail(session, backends, user.user_id, scan_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


async def _owned_scan(
    scan_id: uuid.UUID, user: CurrentUser, backends: BackendsDep
) -> AsyncIterator[uuid.UUID]:
    # A dependency, not code in the stream: once streaming starts it is too late to answer 404 or 429.
    # Its slot is held until the stream ends (a yield dependency outlives a streaming response).
    await scans.ensure_owner(backends, user.user_id, scan_id)
    async with scans.stream_slot(backends, user.user_id):
        yield scan_id


def _last_event_id(last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None) -> int:
    if not last_event_id:
        return 0
    if not last_event_id.isdigit() or len(last_event_id) > 9:
        raise ProblemError("Last-Event-ID must be an event id from this stream.", code="invalid-event-id")
    return int(last_event_id)


@router.get("/scans/{scan_id}/events", response_class=EventSourceResponse)
async def scan_events(
    scan_id: Annotated[uuid.UUID, Depends(_owned_scan)],
    backends: BackendsDep,
    after: Annotated[int, Depends(_last_event_id)],
) -> AsyncIterator[ServerSentEvent]:
    """Progress as Server-Sent Events; reconnect with Last-Event-ID to replay what was missed."""
    async for item in scans.stream_events(backends, scan_id, after=after):
        if item.seq is None:
            yield ServerSentEvent(comment="keep-alive")
        else:
            yield ServerSentEvent(id=str(item.seq), event=item.type, data=item.data, retry=2000)


@router.post("/scans/{scan_id}/feedback", status_code=status.HTTP_201_CREATED)
async def submit_feedback(
    scan_id: uuid.UUID, body: FeedbackCreate, user: CurrentUser, session: SessionDep
) -> FeedbackView:
    """Say whether the answer was right; a correction names the right item."""
    return await feedback.submit_feedback(session, user.user_id, scan_id, body)
