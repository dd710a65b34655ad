"""Broker reachability for readiness probes and ``ecoeco check``."""

from __future__ import annotations

import asyncio

from kombu import Connection

CONNECT_TIMEOUT_S = 2


def _connect(url: str) -> None:
    with Connection(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.ensure_connection(max_retries=1, timeout=CONNECT_TIMEOUT_S)


async def ping_broker(url: str) -> None:
    await asyncio.to_thread(_connect, url)
