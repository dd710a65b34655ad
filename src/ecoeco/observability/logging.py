"""Structured logging (structlog). JSON lines in production, readable lines on a terminal.

Our own log calls take structlog's native path straight to the stream (no stdlib ``logging`` hop on
the request path: the access log runs once per request). Records from libraries that use ``logging``
(uvicorn, SQLAlchemy, Celery) are rendered by the same processors, so every line looks alike.
Anything that looks like a credential is redacted before it is rendered, whoever logged it.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import time
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

_SENSITIVE = re.compile(
    r"(pass(word)?|secret|token|authorization|cookie|api[_-]?key|credential|code_verifier|^code$)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


@functools.lru_cache(maxsize=1024)
def _sensitive(key: str) -> bool:
    # Log calls use a few dozen distinct field names: one regex search per name, not per line.
    return key != "event" and _SENSITIVE.search(key) is not None


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in [k for k in event if _sensitive(k)]:
        event[key] = REDACTED
    return event


class _UtcTimestamp:
    """The ``timestamp`` field as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it
    (``2026-12-05T09:41:07.123456Z``), with the date and time of day formatted once per second
    instead of once per line: it was a fifth of the access log's cost."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1_000_000):06d}Z"
        return event


def _json_line(event: Any, **kw: Any) -> str:
    """One JSON line by orjson (UTF-8 text, as ``ensure_ascii=False``), structlog's fallback ``default``
    for other types; the standard library for what orjson refuses (integers wider than 64 bits)."""
    try:
        return orjson.dumps(event, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(event, ensure_ascii=False, **kw)


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing.

    Loggers are cached on first use; binding them to the stderr object of that moment would leave them
    writing to a closed file once a harness (a CLI runner, pytest's capture) swaps it back.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """``json=None`` picks JSON unless the stream is a terminal."""
    out: Any = stream or _CurrentStderr()
    as_json = not out.isatty() if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _UtcTimestamp(),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Our middleware writes one access line per request; uvicorn's own would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
