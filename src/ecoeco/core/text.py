"""The one rule for text a client sends: no NUL characters (and no lone UTF-16 surrogates).

PostgreSQL cannot store U+0000 in text and neither database driver can encode a lone surrogate (JSON allows
``"\\ud800"``), so such input would fail deep inside a transaction as a 500 on one backend and be stored on
the other. Checked once, at the edge, the same way for every field:

* ``Text`` for body and form fields: a pattern, so the OpenAPI document states the rule too (and schema
  fuzzers know it); pydantic refuses lone surrogates on its own. A 422 names the field.
* :func:`url_has_nul` for every path and query parameter: the request middleware answers 422.
* :func:`is_text` where a body is parsed by hand (a multipart scan's question).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

TEXT_PATTERN = r"^[^\x00]*$"
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")

Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]


def is_text(value: str) -> bool:
    return _FORBIDDEN.search(value) is None


def url_has_nul(raw: bytes) -> bool:
    """A percent-encoded NUL anywhere in a raw path or query string."""
    return b"%00" in raw
