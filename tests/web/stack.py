"""Real server processes for the browser tests, and a TCP proxy that can cut a stream.

* embedded: ``ecoeco up`` on a fresh data directory (SQLite, in-process queue, local disk);
* distributed: ``ecoeco serve`` + ``ecoeco worker --queue q.ai`` on a PostgreSQL database, RabbitMQ vhost,
  Redis key prefix and S3 (moto) bucket of their own.

Both import ``points.csv`` with ``ecoeco locations import`` first and use the local vision model.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.support import services

HERE = Path(__file__).parent
POINTS = HERE / "points.csv"
STARTUP_S = 90.0


def ecoeco_exe() -> str:
    found = shutil.which("ecoeco", path=os.path.dirname(sys.executable))
    if not found:
        raise RuntimeError("the ecoeco command is not installed in this environment")
    return found


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOECO_")}
    env.update(
        {
            "ECOECO_ENV": "dev",
            "ECOECO_LOG_JSON": "true",
            "ECOECO_LOG_LEVEL": "WARNING",
            # Every test signs in new people through the dev provider; the default 30/min would throttle.
            "ECOECO_AUTH_RATE_LIMIT": "10000",
        }
    )
    env.update(extra)
    return env


@dataclass
class Stack:
    """One running ecoeco (plus its worker when distributed) that the browser talks to."""

    backend: str
    url: str
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log")))

    def close(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for cleanup in reversed(self.cleanups):
            cleanup()


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            [ecoeco_exe(), *args], env=env, stdout=out, stderr=out, timeout=180, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"ecoeco {' '.join(args)} exited {done.returncode}:\n{log.read_text()[-3000:]}")


def _spawn(stack: Stack, name: str, args: list[str]) -> None:
    out = (stack.log_dir / f"{name}.log").open("ab")
    stack.processes[name] = subprocess.Popen([ecoeco_exe(), *args], env=stack.env, stdout=out, stderr=out)
    out.close()


def _wait_ready(stack: Stack) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        for proc in stack.processes.values():
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited {proc.returncode}:\n{stack.logs()}")
        try:
            with urllib.request.urlopen(f"{stack.url}/readyz", timeout=2) as r:  # noqa: S310 - our own server
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{stack.url} not ready after {STARTUP_S}s:\n{stack.logs()}")


def _import_points(stack: Stack) -> None:
    args = ["locations", "import", str(POINTS), "--format", "simple-csv", "--source", "web-test"]
    _run(args, stack.env, stack.log_dir / "import.log")


def start_embedded(
    data_dir: Path, port: int, extra_return_urls: list[str], extra_env: dict[str, str] | None = None
) -> Stack:
    url = f"http://127.0.0.1:{port}"
    env = base_env(
        {
            "ECOECO_DATA_DIR": str(data_dir),
            "ECOECO_PUBLIC_URL": url,
            "ECOECO_AUTH_WEB_RETURN_URLS": _json_list([f"{url}/", *extra_return_urls]),
            **(extra_env or {}),
        }
    )
    stack = Stack("embedded", url, env, data_dir)
    _import_points(stack)
    _spawn(stack, "up", ["up", "--port", str(port)])
    try:
        _wait_ready(stack)
    except Exception:
        stack.close()
        raise
    return stack


def start_distributed(
    data_dir: Path,
    port: int,
    name: str,
    s3_endpoint: str,
    extra_origins: list[str],
    *,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """``extra_origins``: other origins the browser uses (the test proxy) for sign-in and uploads."""
    url = f"http://127.0.0.1:{port}"
    bucket = f"ecoeco-{name}-{uuid.uuid4().hex[:6]}".lower().replace("_", "-")
    prefix = f"test:web:{uuid.uuid4().hex}:"
    database = f"ecoeco_{name}"
    vhost = f"ecoeco_{name}"
    stack = Stack("distributed", url, {}, data_dir)
    try:
        database_url = services.create_postgres_database(database)
        stack.cleanups.append(lambda: services.drop_postgres_database(database))
        broker_url = services.create_rabbitmq_vhost(vhost)
        stack.cleanups.append(lambda: services.delete_rabbitmq_vhost(vhost))
        redis_url = services.check_redis()
        stack.cleanups.append(lambda: services.flush_redis_prefix(redis_url, prefix))
        services.create_bucket(s3_endpoint, bucket)
        _allow_browser_uploads(s3_endpoint, bucket, [url, *extra_origins])
        stack.env = base_env(
            {
                "ECOECO_DATA_DIR": str(data_dir),
                "ECOECO_PUBLIC_URL": url,
                "ECOECO_AUTH_WEB_RETURN_URLS": _json_list([f"{o}/" for o in (url, *extra_origins)]),
                "ECOECO_DATABASE_URL": database_url,
                "ECOECO_REDIS_URL": redis_url,
                "ECOECO_REDIS_PREFIX": prefix,
                "ECOECO_BROKER_URL": broker_url,
                "ECOECO_S3_BUCKET": bucket,
                "ECOECO_S3_ENDPOINT_URL": s3_endpoint,
                **(extra_env or {}),
            }
        )
        _run(["migrate"], stack.env, data_dir / "migrate.log")
        _import_points(stack)
        _spawn(stack, "serve", ["serve", "--host", "127.0.0.1", "--port", str(port)])
        _spawn(stack, "worker", ["worker", "--queue", "q.ai", "--metrics-port", "0"])
        _wait_ready(stack)
    except Exception:
        stack.close()
        raise
    return stack


def _json_list(values: list[str]) -> str:
    return json.dumps(values)


def _allow_browser_uploads(endpoint: str, bucket: str, origins: list[str]) -> None:
    """What deploy/terraform/s3.tf sets on the real bucket: the web app may PUT to pre-signed URLs."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="ap-northeast-2")
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["PUT", "GET"],
                    "AllowedOrigins": origins,
                    "AllowedHeaders": ["Content-Type", "Content-MD5", "x-amz-*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )


# --- a proxy between the browser and the server ----------------------------------------------


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]


class Proxy:
    """A loopback TCP proxy that understands just enough HTTP/1.1 to count requests and bytes, and to
    cut the next Server-Sent Events stream after its first event (a network drop mid-scan)."""

    _EVENT = re.compile(rb"(?:^|\n)data:[^\n]*\n(?:[^\n]+\n)*\n")
    CUT_AFTER_S = 1.0

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[Seen] = []
        self.bytes_down = 0
        self.cuts = 0
        self._cut_next_stream = False
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-test-proxy", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("proxy did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def cut_next_event_stream(self) -> None:
        with self._lock:
            self._cut_next_stream = True

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_down = 0

    def event_stream_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.target.split("?")[0].endswith("/events")]

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        cut = asyncio.Event()  # set when the response now flowing is a stream to cut

        async def upload() -> None:
            while True:
                head = await client_r.readuntil(b"\r\n\r\n")
                method, target, headers = _parse_head(head)
                with self._lock:
                    self.requests.append(Seen(method, target, headers))
                    if target.split("?")[0].endswith("/events") and self._cut_next_stream:
                        self._cut_next_stream = False
                        cut.set()
                upstream_w.write(head)
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    upstream_w.write(await client_r.readexactly(length))
                await upstream_w.drain()

        async def download() -> None:
            pending = b""
            while data := await upstream_r.read(65536):
                if cut.is_set():
                    pending += data
                    head_end = pending.find(b"\r\n\r\n")
                    found = self._EVENT.search(pending, head_end + 4) if head_end >= 0 else None
                    if found is None:
                        continue
                    data = pending[: found.end()]
                with self._lock:
                    self.bytes_down += len(data)
                client_w.write(data)
                await client_w.drain()
                if cut.is_set():
                    with self._lock:
                        self.cuts += 1
                    # Then drop the connection mid-stream, as a lost network would, once the browser has
                    # had time to read the event: Chrome may discard body bytes still on their way to the page
                    # when the close overtakes them, and then reconnects as if it had seen no event.
                    await asyncio.sleep(self.CUT_AFTER_S)
                    return

        tasks = [asyncio.ensure_future(upload()), asyncio.ensure_future(download())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in (client_w, upstream_w):
                writer.close()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers: dict[str, Any] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, target, headers
