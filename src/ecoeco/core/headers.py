"""Security headers: the ones every response carries, and the stricter page policy the web app adds.

:func:`security_headers` is applied to every response by the request middleware
(``ecoeco.observability.middleware``); a response that sets one of these itself (the web app's pages set
their own Content-Security-Policy) keeps its own. HSTS is sent only on requests that arrived over TLS
(directly, or from a trusted proxy's ``X-Forwarded-Proto``): on plain HTTP it would mean nothing, and on a
developer's ``http://127.0.0.1`` it must not pin anything.
"""

from __future__ import annotations

from collections.abc import Set

# JSON and images need no resources and must never be framed: the strictest policy there is.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"

_EVERY_RESPONSE: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", API_CSP.encode()),
)
_HSTS = (b"strict-transport-security", HSTS.encode())


def security_headers(present: Set[bytes], *, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers to add to a response whose (lower-case) header names are ``present``."""
    added = [header for header in _EVERY_RESPONSE if header[0] not in present]
    if https and _HSTS[0] not in present:
        added.append(_HSTS)
    return added
