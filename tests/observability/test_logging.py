from __future__ import annotations

import io
import json
import logging
import re
import sys
from datetime import UTC, datetime

import pytest
import structlog

from ecoeco.observability.logging import REDACTED, configure_logging


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_our_logs_are_json_with_level_and_time() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    structlog.get_logger("t").info("scan_done", scan_id="s-1", 분류="clear_pet")
    structlog.get_logger("t").debug("hidden")
    (line,) = _lines(out)
    assert line["event"] == "scan_done"
    assert line["level"] == "info"
    assert line["분류"] == "clear_pet"
    assert "timestamp" in line


def test_credentials_are_redacted_from_ours_and_library_logs() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    structlog.get_logger("t").warning(
        "login", access_token="eyJ.secret", password="pw", api_key="sk-1", client_secret="s", user="kim"
    )
    logging.getLogger("some.library").warning("hello %s", "world", extra={"authorization": "Bearer x"})
    ours, theirs = _lines(out)
    for key in ("access_token", "password", "api_key", "client_secret"):
        assert ours[key] == REDACTED
    assert ours["user"] == "kim"
    assert theirs["event"] == "hello world"
    assert theirs["logger"] == "some.library"
    assert "eyJ.secret" not in out.getvalue()


def test_exceptions_are_rendered_into_the_line() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("t").exception("failed")
    (line,) = _lines(out)
    assert "ValueError: boom" in str(line["exception"])


def test_loggers_follow_stderr_when_it_is_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CLI runner or pytest swaps sys.stderr and closes its buffer afterwards: a logger cached
    # while it was in place must not write into the closed buffer later.
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO", json=True)
    log = structlog.get_logger("swap")
    log.info("one")
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    log.info("two")
    assert json.loads(second.getvalue())["event"] == "two"


def test_the_timestamp_is_iso_utc_with_microseconds() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    before = datetime.now(UTC)
    structlog.get_logger("t").info("tick")
    after = datetime.now(UTC)
    (line,) = _lines(out)
    stamp = str(line["timestamp"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp), stamp
    assert before <= datetime.fromisoformat(stamp) <= after


def test_values_json_has_no_type_for_are_still_logged() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    structlog.get_logger("t").info("odd", big=2**70, ids={1: "one"}, obj=object(), 이름="분리배출")
    (line,) = _lines(out)
    assert line["big"] == 2**70
    assert line["ids"] == {"1": "one"}
    assert str(line["obj"]).startswith("<object object")
    assert line["이름"] == "분리배출"
    assert "분리배출" in out.getvalue()  # UTF-8 text, not \\u escapes
