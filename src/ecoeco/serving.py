"""The HTTP server of ``ecoeco up`` and ``ecoeco serve``: uvicorn, configured once for both.

* Forwarded headers (``X-Forwarded-For``/``-Proto``) are believed only from ``ECOECO_FORWARDED_ALLOW_IPS``
  (the load balancer's network); from anyone else the peer address is the client. uvicorn's own default
  trusts 127.0.0.1, which let a local client pick its own rate-limit bucket.
* Request heads are bounded before the app runs: more than ``ECOECO_MAX_HEAD_BYTES`` of request line and
  headers, or more than ``ECOECO_MAX_HEADER_FIELDS`` fields, gets 431 and the connection is closed. uvicorn's
  httptools protocol (the fast one, 3-4x h11's throughput here) has no such limit: it accepted a 10 MB
  header and 5,000 headers. The count is checked per field, the size per chunk received while the head is
  still arriving, so neither is buffered past the limit.
* The public URL follows the bound address when ``ECOECO_PUBLIC_URL`` is not set (upload URLs, the token
  issuer and the web flow's return URL all derive from it).
* With ``--metrics-port`` the Prometheus metrics are served on a listener of their own (what Prometheus
  scrapes inside the cluster) and not on the public one.
"""

from __future__ import annotations

import json

import uvicorn
from fastapi import FastAPI
from prometheus_client import start_http_server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ecoeco.core.errors import TYPE_BASE
from ecoeco.settings import Settings


def public_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """``settings`` with the public URL of this listener, unless one was configured."""
    if "public_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - naming, not binding
    return settings.model_copy(update={"public_url": f"http://{shown}:{port}"})


def run(application: FastAPI, settings: Settings, *, host: str, port: int, metrics_port: int = 0) -> None:
    if metrics_port:
        start_http_server(metrics_port)
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=bounded_protocol(settings.max_head_bytes, settings.max_header_fields),
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


class _HeadTooLarge(Exception):
    pass


# How long a refused connection keeps reading (and dropping) what its client still sends: closing a socket
# with unread bytes makes the kernel send a reset, which can destroy the 431 before the client has read it.
LINGER_S = 2.0


def bounded_protocol(max_head_bytes: int, max_header_fields: int) -> type[HttpToolsProtocol]:
    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes: int | None = 0  # bytes of the request head received so far; None while in a body
        _refusal: str | None = None
        _refused = False

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # lingering after a 431 (see LINGER_S): dropped unparsed
            if self._head_bytes is not None:
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end + 4
                if self._head_bytes > max_head_bytes:
                    self._refuse(f"The request head exceeds {max_head_bytes} bytes.")
                    return
            super().data_received(data)

        def on_header(self, name: bytes, value: bytes) -> None:
            if len(self.headers) >= max_header_fields:
                # Raised through the parser, which uvicorn answers with send_400_response (below).
                self._refusal = f"The request has more than {max_header_fields} header fields."
                raise _HeadTooLarge(self._refusal)
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            if self._refusal is None:
                super().send_400_response(msg)
            else:
                self._refuse(self._refusal)

        def on_headers_complete(self) -> None:
            self._head_bytes = None
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._head_bytes = 0  # the next request on this connection starts with its head
            super().on_message_complete()

        def _refuse(self, detail: str) -> None:
            title = "Request Header Fields Too Large"
            problem = {
                "type": TYPE_BASE + "headers-too-large",
                "title": title,
                "status": 431,
                "detail": detail,
            }
            body = json.dumps(problem | {"code": "headers-too-large"}).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/problem+json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
            )
            self._refused = True
            self._head_bytes = None
            # Half-close: the answer and a FIN go out; the client's EOF (or the timer) closes the rest.
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)

    return BoundedHttpToolsProtocol
