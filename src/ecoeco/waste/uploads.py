"""Pre-signed upload targets.

Distributed mode hands out an S3 pre-signed PUT whose signature covers the content type and the exact
length. Embedded mode has no S3, so the app signs its own URL: an HMAC over the upload id, owner,
content type, size cap and expiry, checked in constant time by the PUT endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from ecoeco.core.clock import clock
from ecoeco.core.errors import Forbidden, ProblemError

SIGNATURE_VERSION = "v1"


@dataclass(frozen=True)
class UploadGrant:
    upload_id: uuid.UUID
    user_id: uuid.UUID
    content_type: str
    size: int
    expires: int  # unix seconds

    def message(self) -> bytes:
        return "|".join(
            (
                SIGNATURE_VERSION,
                str(self.upload_id),
                str(self.user_id),
                self.content_type,
                str(self.size),
                str(self.expires),
            )
        ).encode()


def _mac(secret: str, grant: UploadGrant) -> str:
    # Domain-separated key so this MAC can never be confused with another use of the server secret.
    key = hashlib.sha256(b"ecoeco-upload-url:" + secret.encode()).digest()
    return hmac.new(key, grant.message(), hashlib.sha256).hexdigest()


def signed_url(base_url: str, secret: str, grant: UploadGrant) -> str:
    query = urlencode({"expires": grant.expires, "sig": _mac(secret, grant)})
    return f"{base_url.rstrip('/')}/api/v1/waste/uploads/{grant.upload_id}?{query}"


def verify(secret: str, grant: UploadGrant, signature: str, *, now: float | None = None) -> None:
    """Raise a 403 problem unless ``signature`` is valid for ``grant`` and not expired."""
    if not hmac.compare_digest(_mac(secret, grant), signature):
        raise Forbidden("The upload URL is not valid.", code="upload-signature-invalid")
    if (now if now is not None else clock.now().timestamp()) > grant.expires:
        raise ProblemError(
            "The upload URL has expired; ask for a new one.", status=403, code="upload-url-expired"
        )
