"""A fake OpenAI-compatible server: a real HTTP server on 127.0.0.1 speaking the Chat Completions wire
format the SDK uses (``POST /v1/chat/completions``, bearer auth, OpenAI's error envelope, ``usage``).

Like the real API it rejects requests the real one would (no key, no model, a ``json_schema`` response
format that is not valid for strict mode) with a 400/401. What the "model" answers is scripted per test
with :meth:`FakeOpenAI.answer` / :meth:`FakeOpenAI.fail` / :meth:`FakeOpenAI.stall`, in order; every
request received is kept in :attr:`FakeOpenAI.requests`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "sk-test-fake-openai"
# What the real API bills for one `detail: "low"` image.
LOW_DETAIL_IMAGE_TOKENS = 85


@dataclass
class Scripted:
    status: int = 200
    content: str | None = None
    refusal: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_type: str = "server_error"
    error_code: str | None = None
    delay_s: float = 0.0


@dataclass
class FakeOpenAI:
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    _script: deque[Scripted] = field(default_factory=deque)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def answer(self, content: dict[str, Any] | str, *, refusal: str | None = None) -> None:
        """The model's next message: a dict is sent as its JSON text, a str verbatim."""
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        self._script.append(Scripted(content=text, refusal=refusal))

    def fail(
        self,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        error_type: str = "server_error",
        error_code: str | None = None,
    ) -> None:
        self._script.append(
            Scripted(status=status, headers=headers or {}, error_type=error_type, error_code=error_code)
        )

    def stall(self, seconds: float) -> None:
        """Answer the next request only after ``seconds`` (longer than the client's timeout)."""
        self._script.append(Scripted(delay_s=seconds, content="{}"))

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.replies.clear()

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        problem = _invalid_request(body)
        if problem:
            return _error(400, problem, "invalid_request_error", None)
        if not self._script:
            # A test that did not script this call: fail loudly and tell the SDK not to retry.
            return _error(500, "fake: no scripted reply", "server_error", None, {"x-should-retry": "false"})
        step = self._script.popleft()
        if step.delay_s:
            await asyncio.sleep(step.delay_s)
        if step.status != 200:
            return _error(step.status, "scripted failure", step.error_type, step.error_code, step.headers)
        reply = self._completion(body, step)
        self.replies.append(reply)
        return JSONResponse(reply)

    def _completion(self, body: dict[str, Any], step: Scripted) -> dict[str, Any]:
        prompt_text = json.dumps(body["messages"], ensure_ascii=False)
        images = prompt_text.count('"image_url"')
        # A rough tokeniser (4 characters a token) for text; images at their billed rate.
        text_only = prompt_text if not images else prompt_text.split("data:", 1)[0]
        prompt_tokens = len(text_only) // 4 + images * LOW_DETAIL_IMAGE_TOKENS
        completion_tokens = max(1, len(step.content or step.refusal or "") // 4)
        return {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"] + "-2024-fake",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None if step.refusal else step.content,
                        "refusal": step.refusal,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _error(
    status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    envelope = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(envelope, status_code=status, headers=headers)


def _invalid_request(body: dict[str, Any]) -> str | None:
    """What the real API would refuse in the requests our adapter sends."""
    if not body.get("model") or not isinstance(body.get("messages"), list):
        return "model and messages are required"
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if fmt.get("type") != "json_schema":
        return f"unsupported response_format type {fmt.get('type')!r}"
    spec = fmt["json_schema"]
    if spec.get("strict"):
        return _strict_schema_problem(spec["schema"], "schema")
    return None


def _strict_schema_problem(schema: dict[str, Any], where: str) -> str | None:
    """Strict structured outputs: every object closes its properties and requires all of them."""
    if "enum" in schema and not schema["enum"]:
        return f"{where}: enum must not be empty"
    if schema.get("type") == "object":
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return f"{where}: additionalProperties must be false"
        if sorted(schema.get("required", [])) != sorted(properties):
            return f"{where}: all properties must be required"
        for name, sub in properties.items():
            if problem := _strict_schema_problem(sub, f"{where}.{name}"):
                return problem
    if schema.get("type") == "array":
        return _strict_schema_problem(schema["items"], f"{where}[]")
    return None


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    ready = threading.Event()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        ready.set()
        yield

    app = Starlette(routes=[Route("/v1/chat/completions", fake.handle, methods=["POST"])], lifespan=lifespan)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections made before uvicorn serves wait in the backlog instead of being refused
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    runner = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True)
    runner.start()
    if not ready.wait(timeout=20):
        raise RuntimeError("the fake OpenAI server did not start")
    yield fake
    server.should_exit = True
    runner.join(timeout=10)
    sock.close()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()
