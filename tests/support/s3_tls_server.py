"""moto's S3 (a real HTTP server speaking the S3 protocol) behind uvicorn with TLS; run as a script by
tests.support.pgcluster.s3_over_tls: ``python s3_tls_server.py PORT CERTFILE KEYFILE``."""

from __future__ import annotations

import sys

import uvicorn
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main(port: int, certfile: str, keyfile: str) -> None:
    uvicorn.run(
        DomainDispatcherApplication(create_backend_app),
        host="127.0.0.1",
        port=port,
        interface="wsgi",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        log_level="warning",
        # pgBackRest keeps connections alive; do not wait for clients at shutdown.
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
