"""One reading of Accept-Language for every endpoint."""

from __future__ import annotations

import pytest

from ecoeco.core.language import negotiate_language


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "ko"),
        ("en", "en"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),
        ("fr-FR, en;q=0.5", "en"),
        ("fr, en;q=0.8", "en"),
        ("fr", "ko"),
        ("en;q=0", "ko"),
        ("en;q=oops, ko;q=0.1", "ko"),
        ("*", "ko"),
    ],
)
def test_language_negotiation(header: str | None, lang: str) -> None:
    assert negotiate_language(header) == lang
