"""Photo scans end to end: the framework's own cost, with a zero-latency stub model.

* **distributed**: ``ecoeco serve`` (uvicorn, 127.0.0.1) + ``ecoeco worker --queue q.ai`` as real processes on
  PostgreSQL, Redis, RabbitMQ and S3 (a ``moto_server`` subprocess); a database, vhost, Redis prefix and
  bucket made for this run and removed afterwards. **embedded**: one ``ecoeco up`` process (SQLite, the
  in-process executor). Goals: one phone POST → done p50 < 40 ms (distributed); with 12 phones polling,
  >= 100 scans/s distributed and >= 50 embedded, on 2 cores.
* The model is a stub answering a fixed confident classification at once; it is put in place, without
  touching product code, by starting each ecoeco process through ``benchmarks/waste_stub.py`` (it replaces
  the classifier factory, then the real ``ecoeco`` command runs).
* Load: ``PHONES`` concurrent phones (httpx, one account each), each POSTing a distinct 64x64 noise JPEG
  (no cache hits) and then either polling ``GET /scans/{id}`` every 10 ms or reading the SSE stream until
  ``done`` (the stream wakes on the cache's change notification, Redis pub/sub when distributed, and
  re-reads the database once a second should one be lost); and one phone alone, for the latency of a scan
  that does not queue behind others.
* CPU time per scan of each process (from /proc): API, worker, moto_server, this run's PostgreSQL backends,
  the RabbitMQ and Redis servers, the load generator, and the rest of the machine (other tenants).
* The cache-hit path: a photo confirmed by feedback, then sent again: intake answers ``done`` in the POST.
* Baselines in the same run: a bare FastAPI POST served the same way under the same load (the HTTP hop), a
  raw publish → consume round trip on the same RabbitMQ (kombu, quorum queue, confirms: the queue hop),
  and the local model's inference (``LocalClassifier.predict``) on prepared 1280-px photos.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from kombu import Connection, Consumer, Exchange, Producer, Queue
from PIL import Image
from tests.support import services
from tests.support.auth import SignedIn, sign_in

from benchmarks.waste_stub import STUB_MODEL
from ecoeco.settings import Settings
from ecoeco.vision.images import ImageLimits
from ecoeco.waste.service.scans import SHARE_AFTER_CONFIRMATIONS

ROOT = Path(__file__).resolve().parents[1]
WASTE = "/api/v1/waste"
PHONES = 12
POLL_S = 0.01
WARMUP_S = 2.0
SINGLE_PHASE_S = 3.0
POLL_PHASE_S = 8.0
SSE_PHASE_S = 5.0
HELLO_PHASE_S = 4.0
CACHE_SEQUENTIAL = 50
CACHE_PHASE_S = 3.0
SCAN_TIMEOUT_S = 30.0
BROKER_ROUND_TRIPS = 200
MODEL_IMAGES = 30


# --- processes ---------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")


def spawn(stack: contextlib.ExitStack, name: str, args: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    out = stack.enter_context(log.open("wb"))
    popen = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.waste_stub", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    proc = Proc(name, popen, log)

    def stop() -> None:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout=5)

    stack.callback(stop)
    return proc


def wait_listening(proc: Proc, port: int, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check()
        try:
            services.wait_for_port(port, timeout=0.2)
            return f"http://127.0.0.1:{port}"
        except TimeoutError:
            continue
    raise TimeoutError(f"{proc.name} is not listening on {port} after {timeout}s")


def wait_consuming(proc: Proc, broker_url: str, timeout: float = 60.0) -> None:
    from ecoeco.queue.topology import queue_depths

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check()
        with contextlib.suppress(Exception):  # the queue exists once the worker declared it
            if any(d.consumers for d in queue_depths(broker_url, ("q.ai",))):
                return
        time.sleep(0.2)
    raise TimeoutError(f"{proc.name} does not consume q.ai after {timeout}s")


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads) so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Process groups whose CPU time a phase reports: name → pids (looked up when the phase starts).
Pids = Callable[[], dict[str, list[int]]]


def group_cpu(groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: t for pid in pids if (t := cpu_s(pid)) is not None} for name, pids in groups.items()}


def cpu_delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds per group between two readings (processes alive at both)."""
    return {
        name: sum(after[name][pid] - t for pid, t in pids.items() if pid in after[name])
        for name, pids in before.items()
    }


def pids_named(command: str) -> list[int]:
    """Processes whose command name is ``command`` (shared services: RabbitMQ, Redis)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "comm").read_text().strip() == command:
                    found.append(int(proc.name))
    return found


def postgres_backends(database: str) -> list[int]:
    """The server processes serving connections to ``database`` (this run's only)."""
    import psycopg

    with psycopg.connect(services.PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
    return [int(r[0]) for r in rows]


def machine_busy_s() -> float:
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- load ----------------------------------------------------------------------------------------------


class Photos:
    """Distinct small JPEGs (64x64 noise): no two scans share a perceptual hash, so no cache hits."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = np.random.default_rng(seed)

    def next(self) -> bytes:
        pixels = self.rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
        return buf.getvalue()


@dataclass
class Phase:
    name: str
    post_ms: list[float] = field(default_factory=list)
    done_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # created_at → completed_at, the server's clocks
    wall_s: float = 0.0
    requests: int = 0  # HTTP requests the phones sent
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process group in the phase

    def record(self, started: float, posted: float, requests: int) -> None:
        """One finished scan: POST sent at ``started``, answered at ``posted``, result in hand now."""
        now = time.perf_counter()
        self.requests += requests
        self.post_ms.append((posted - started) * 1000)
        self.done_ms.append((now - started) * 1000)

    @property
    def count(self) -> int:
        return len(self.done_ms)

    @property
    def rate(self) -> float:
        return self.count / self.wall_s if self.wall_s else 0.0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def post_scan(client: httpx.AsyncClient, user: SignedIn, photo: bytes) -> dict[str, Any]:
    r = await client.post(
        f"{WASTE}/scans", files={"image": ("scan.jpg", photo, "image/jpeg")}, headers=user.headers
    )
    if r.status_code != 202:
        raise RuntimeError(f"POST /scans answered {r.status_code}: {r.text[:300]}")
    body: dict[str, Any] = r.json()
    return body


async def poll_done(client: httpx.AsyncClient, user: SignedIn, scan_id: str) -> dict[str, Any]:
    polls = 0
    async with asyncio.timeout(SCAN_TIMEOUT_S):
        while True:
            r = await client.get(f"{WASTE}/scans/{scan_id}", headers=user.headers)
            polls += 1
            if r.status_code == 200:
                body: dict[str, Any] = r.json()
                body["polls"] = polls
                if body["status"] != "done":
                    raise RuntimeError(f"scan {scan_id} ended {body['status']}: {body.get('error')}")
                return body
            if r.status_code != 202:
                raise RuntimeError(f"GET /scans/{scan_id} answered {r.status_code}: {r.text[:300]}")
            await asyncio.sleep(POLL_S)


async def sse_done(client: httpx.AsyncClient, user: SignedIn, scan_id: str) -> None:
    async with (
        asyncio.timeout(SCAN_TIMEOUT_S),
        client.stream("GET", f"{WASTE}/scans/{scan_id}/events", headers=user.headers) as r,
    ):
        if r.status_code != 200:
            raise RuntimeError(f"GET /scans/{scan_id}/events answered {r.status_code}")
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
                if kind == "done":
                    return
                if kind == "failed":
                    raise RuntimeError(f"scan {scan_id} failed")
    raise RuntimeError(f"the event stream of scan {scan_id} ended before the scan did")


def _server_ms(body: dict[str, Any]) -> float:
    created = datetime.fromisoformat(body["created_at"])
    completed = datetime.fromisoformat(body["completed_at"])
    return (completed - created).total_seconds() * 1000


Step = Callable[[httpx.AsyncClient, SignedIn, Phase], Any]


async def run_phase(
    client: httpx.AsyncClient,
    users: list[SignedIn],
    phase: Phase,
    seconds: float,
    step: Callable[[httpx.AsyncClient, SignedIn, Phase], Any],
    pids: Pids,
) -> Phase:
    """Every phone repeats ``step`` until ``seconds`` have passed (in-flight scans finish)."""
    groups = pids()
    before = group_cpu(groups)
    busy_before = machine_busy_s()
    started = time.perf_counter()
    deadline = started + seconds

    async def phone(user: SignedIn) -> None:
        while time.perf_counter() < deadline:
            await step(client, user, phase)

    await asyncio.gather(*(phone(u) for u in users))
    phase.wall_s = time.perf_counter() - started
    phase.cpu = cpu_delta(before, group_cpu(groups))
    phase.cpu["machine"] = machine_busy_s() - busy_before
    return phase


def scan_step(photos: Photos, *, sse: bool) -> Step:
    async def step(client: httpx.AsyncClient, user: SignedIn, phase: Phase) -> None:
        photo = photos.next()
        t0 = time.perf_counter()
        accepted = await post_scan(client, user, photo)
        t1 = time.perf_counter()
        if sse:
            await sse_done(client, user, accepted["scan_id"])
            phase.record(t0, t1, requests=2)
            return
        body = await poll_done(client, user, accepted["scan_id"])
        phase.record(t0, t1, requests=1 + body["polls"])
        if body["cache_hit"] or body["result"]["model"] != STUB_MODEL:
            raise RuntimeError(f"not a stub-model scan: {body['result'].get('model')}")
        phase.server_ms.append(_server_ms(body))

    return step


def cache_hit_step(photo: bytes) -> Step:
    async def step(client: httpx.AsyncClient, user: SignedIn, phase: Phase) -> None:
        t0 = time.perf_counter()
        accepted = await post_scan(client, user, photo)
        t1 = time.perf_counter()
        if accepted["status"] != "done":
            raise RuntimeError(f"a confirmed photo was not answered from the cache: {accepted}")
        r = await client.get(f"{WASTE}/scans/{accepted['scan_id']}", headers=user.headers)
        if r.status_code != 200 or not r.json()["cache_hit"]:
            raise RuntimeError(f"cache hit not readable at once: {r.status_code} {r.text[:200]}")
        phase.record(t0, t1, requests=2)

    return step


def hello_step(photo: bytes) -> Step:
    async def step(client: httpx.AsyncClient, user: SignedIn, phase: Phase) -> None:
        t0 = time.perf_counter()
        r = await client.post("/hello", files={"image": ("scan.jpg", photo, "image/jpeg")})
        if r.status_code != 200:
            raise RuntimeError(f"hello answered {r.status_code}")
        phase.requests += 1
        phase.done_ms.append((time.perf_counter() - t0) * 1000)

    return step


def http_client(base_url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=PHONES * 2, max_keepalive_connections=PHONES * 2)
    return httpx.AsyncClient(base_url=base_url, timeout=SCAN_TIMEOUT_S, limits=limits)


@dataclass
class ModeResult:
    single: Phase
    poll: Phase
    sse: Phase
    cache_seq: Phase
    cache_load: Phase


async def drive_ecoeco(base_url: str, photos: Photos, pids: Pids) -> ModeResult:
    def with_client() -> dict[str, list[int]]:
        return {**pids(), "client": [os.getpid()]}

    async with http_client(base_url) as client:
        users = [await sign_in(client, name=f"bench-phone-{i}") for i in range(PHONES)]
        await run_phase(client, users, Phase("warmup"), WARMUP_S, scan_step(photos, sse=False), with_client)
        single = await run_phase(
            client, users[:1], Phase("single"), SINGLE_PHASE_S, scan_step(photos, sse=False), with_client
        )
        poll = await run_phase(
            client, users, Phase("poll"), POLL_PHASE_S, scan_step(photos, sse=False), with_client
        )
        sse = await run_phase(
            client, users, Phase("sse"), SSE_PHASE_S, scan_step(photos, sse=True), with_client
        )

        # The cache-hit path: one photo, scanned and confirmed by as many people as it takes to be served
        # to everyone, then sent again and again.
        confirmed = photos.next()
        for confirmer in users[:SHARE_AFTER_CONFIRMATIONS]:
            first = await post_scan(client, confirmer, confirmed)
            await poll_done(client, confirmer, first["scan_id"])
            r = await client.post(
                f"{WASTE}/scans/{first['scan_id']}/feedback",
                json={"correct": True},
                headers=confirmer.headers,
            )
            if r.status_code != 201:
                raise RuntimeError(f"feedback answered {r.status_code}: {r.text[:300]}")
        seq = Phase("cache-seq")
        step = cache_hit_step(confirmed)
        await step(client, users[1], Phase("cache-warmup"))
        for i in range(CACHE_SEQUENTIAL):
            await step(client, users[i % PHONES], seq)
        load = await run_phase(client, users, Phase("cache-load"), CACHE_PHASE_S, step, with_client)
    return ModeResult(single, poll, sse, seq, load)


async def drive_hello(base_url: str, photo: bytes, server: int) -> tuple[Phase, Phase]:
    def pids() -> dict[str, list[int]]:
        return {"api": [server], "client": [os.getpid()]}

    nobody = [SignedIn(uuid.uuid4(), "", "", uuid.uuid4())] * PHONES
    async with http_client(base_url) as client:
        await run_phase(client, nobody, Phase("warmup"), 1.0, hello_step(photo), pids)
        single = await run_phase(
            client, nobody[:1], Phase("hello-1"), SINGLE_PHASE_S, hello_step(photo), pids
        )
        return single, await run_phase(client, nobody, Phase("hello"), HELLO_PHASE_S, hello_step(photo), pids)


# --- the two deployments ------------------------------------------------------------------------------


def distributed(tmp: Path, photos: Photos) -> tuple[ModeResult, tuple[Phase, Phase], list[float]]:
    """(scans, hello-world baseline, broker round trips in ms) on the distributed backends."""
    run = f"ecoeco_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"bench:{uuid.uuid4().hex}:"
    with contextlib.ExitStack() as stack:
        pg_url = services.create_postgres_database(run)
        stack.callback(services.drop_postgres_database, run)
        broker_url = services.create_rabbitmq_vhost(run)
        stack.callback(services.delete_rabbitmq_vhost, run)
        stack.callback(services.flush_redis_prefix, services.check_redis(), prefix)
        s3 = stack.enter_context(contextlib.contextmanager(services.run_moto_server)())
        bucket = run.replace("_", "-")
        services.create_bucket(s3, bucket)
        services.migrate(Settings(database_url=pg_url, env="test"))
        env = {
            "ECOECO_ENV": "test",
            "ECOECO_DATA_DIR": str(tmp / "distributed"),
            "ECOECO_DATABASE_URL": pg_url,
            "ECOECO_REDIS_URL": services.REDIS_URL,
            "ECOECO_REDIS_PREFIX": prefix,
            "ECOECO_BROKER_URL": broker_url,
            "ECOECO_S3_BUCKET": bucket,
            "ECOECO_S3_ENDPOINT_URL": s3,
        }
        port = services.free_port()
        worker = spawn(
            stack, "worker", ["ecoeco", "worker", "--queue", "q.ai", "--metrics-port", "0"], env, tmp
        )
        api = spawn(stack, "api", ["ecoeco", "serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp)
        base_url = wait_listening(api, port)
        wait_consuming(worker, broker_url)
        moto = _moto_pid(s3)

        def pids() -> dict[str, list[int]]:
            return {
                "api": [api.popen.pid],
                "worker": [worker.popen.pid],
                "s3": [moto] if moto else [],
                "postgres": postgres_backends(run),
                "rabbitmq": pids_named("beam.smp"),
                "redis": pids_named("redis-server"),
            }

        result = asyncio.run(drive_ecoeco(base_url, photos, pids))
        api.check()
        worker.check()
        round_trips = broker_round_trips(broker_url)

        hello_port = services.free_port()
        hello = spawn(stack, "hello", ["hello", str(hello_port)], {}, tmp)
        hello_url = wait_listening(hello, hello_port)
        baseline = asyncio.run(drive_hello(hello_url, photos.next(), hello.popen.pid))
    return result, baseline, round_trips


def _moto_pid(endpoint: str) -> int | None:
    """The moto_server child listening on the endpoint's port (for its CPU share), if we can tell."""
    port = endpoint.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if parent == os.getpid() and b"-p" in cmd and port.encode() in cmd:
                return int(proc.name)
    return None


def embedded(tmp: Path, photos: Photos) -> ModeResult:
    env = {"ECOECO_ENV": "test", "ECOECO_DATA_DIR": str(tmp / "embedded")}
    port = services.free_port()
    with contextlib.ExitStack() as stack:
        app = spawn(stack, "up", ["ecoeco", "up", "--host", "127.0.0.1", "--port", str(port)], env, tmp)
        base_url = wait_listening(app, port)
        result = asyncio.run(drive_ecoeco(base_url, photos, lambda: {"api": [app.popen.pid]}))
        app.check()
    return result


# --- baselines -------------------------------------------------------------------------------------


def broker_round_trips(broker_url: str) -> list[float]:
    """Publish (persistent, confirmed) → consume one message at a time on a quorum queue: the raw hop."""
    exchange = Exchange("bench.rtt", type="direct", durable=True)
    queue = Queue("bench.rtt", exchange, "rtt", durable=True, queue_arguments={"x-queue-type": "quorum"})
    received: list[float] = []
    samples: list[float] = []

    def on_message(body: Any, message: Any) -> None:
        received.append(time.perf_counter())
        message.ack()

    with Connection(broker_url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.channel(), exchange=exchange, routing_key="rtt", serializer="json")
        consumer_channel = conn.channel()
        queue(consumer_channel).declare()
        with Consumer(consumer_channel, [queue], callbacks=[on_message], accept=["json"], prefetch_count=1):
            for i in range(BROKER_ROUND_TRIPS + 20):
                t0 = time.perf_counter()
                producer.publish({"i": i}, delivery_mode=2)
                while len(received) <= i:
                    conn.drain_events(timeout=5)
                if i >= 20:  # the first ones warm the connection up
                    samples.append((received[i] - t0) * 1000)
    return samples


def model_inference_ms() -> list[float]:
    """``LocalClassifier.predict`` on distinct prepared (1280-px) photos, as the q.ai worker runs it."""
    from skimage import data

    from ecoeco.vision.local import LocalClassifier

    limits = ImageLimits(max_bytes=40 * 1024 * 1024, max_pixels=50_000_000)
    names = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")
    prepared: list[bytes] = []
    for index in range(MODEL_IMAGES):
        base = Image.fromarray(np.asarray(getattr(data, names[index % len(names)])())).convert("RGB")
        im = base.rotate(index * 11, expand=True).resize((2016, 1512), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=90)
        prepared.append(limits.prepare(buf.getvalue()).data)
    classifier = LocalClassifier(limits, threads=Settings().vision_threads)
    classifier.predict(prepared[0])  # builds the session (once per process)
    samples = []
    for jpeg in prepared:
        t0 = time.perf_counter()
        classifier.predict(jpeg)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


# --- report ----------------------------------------------------------------------------------------


def _lat(values: list[float], *qs: float) -> str:
    return " / ".join(f"{pct(values, q):.1f}" for q in qs)


def _cpu_per_scan(phase: Phase) -> str:
    n = max(phase.count, 1)
    parts = [f"{name} {1000 * s / n:.1f}" for name, s in phase.cpu.items() if name != "machine"]
    known = sum(s for name, s in phase.cpu.items() if name != "machine")
    parts.append(f"other tenants+kernel {1000 * max(phase.cpu.get('machine', 0.0) - known, 0.0) / n:.1f}")
    return ", ".join(parts)


def report(
    dist: ModeResult,
    emb: ModeResult,
    hellos: tuple[Phase, Phase],
    round_trips: list[float],
    model: list[float],
) -> None:
    hello_1, hello = hellos
    rows: list[tuple[str, str, str]] = []

    def row(label: str, fn: Callable[[ModeResult], str]) -> None:
        rows.append((label, fn(dist), fn(emb)))

    row("1 phone: POST→done p50/p95 ms (poll)", lambda m: _lat(m.single.done_ms, 50, 95))
    row("1 phone: POST (intake) p50/p95 ms", lambda m: _lat(m.single.post_ms, 50, 95))
    row("scans/s (poll every 10 ms)", lambda m: f"{m.poll.rate:.0f}  (n={m.poll.count})")
    row("  HTTP requests per scan", lambda m: f"{m.poll.requests / max(m.poll.count, 1):.1f}")
    row("POST→done p50/p95/p99 ms (poll)", lambda m: _lat(m.poll.done_ms, 50, 95, 99))
    row("server created→completed p50/p95", lambda m: _lat(m.poll.server_ms, 50, 95))
    row("POST (intake) p50/p95/p99 ms", lambda m: _lat(m.poll.post_ms, 50, 95, 99))
    row("scans/s (SSE)", lambda m: f"{m.sse.rate:.0f}  (n={m.sse.count})")
    row("POST→SSE done p50/p95/p99 ms", lambda m: _lat(m.sse.done_ms, 50, 95, 99))
    row("cache hit, 1 phone: POST p50/p95", lambda m: _lat(m.cache_seq.post_ms, 50, 95))
    row("cache hit, 1 phone: POST+GET p50/p95", lambda m: _lat(m.cache_seq.done_ms, 50, 95))
    row(f"cache hits/s, {PHONES} phones", lambda m: f"{m.cache_load.rate:.0f}")
    row(f"cache hit, {PHONES} phones: POST+GET p50/p95", lambda m: _lat(m.cache_load.done_ms, 50, 95))
    width = max(len(r[0]) for r in rows)
    print(f"\n  {PHONES} phones, stub model, distinct 64x64 JPEGs; latencies in ms")
    print(f"  {'':<{width}}  {'distributed':<24} {'embedded':<24}")
    for label, d, e in rows:
        print(f"  {label:<{width}}  {d:<24} {e:<24}")

    print("\n  baselines (same run)")
    print(
        f"  hello-world POST (same uvicorn call, 1 client)   {hello_1.rate:.0f} req/s, "
        f"p50/p95 {_lat(hello_1.done_ms, 50, 95)} ms"
    )
    print(
        f"  hello-world POST (same uvicorn call, {PHONES} clients)  {hello.rate:.0f} req/s, "
        f"p50/p95/p99 {_lat(hello.done_ms, 50, 95, 99)} ms"
    )
    print(f"  RabbitMQ publish→consume round trip (quorum, confirms) p50/p95 {_lat(round_trips, 50, 95)} ms")
    print(
        f"  LocalClassifier.predict, 1280-px photo ({MODEL_IMAGES} images)  p50/p95 {_lat(model, 50, 95)} ms"
    )

    print("\n  ratios")
    hello_p50 = pct(hello.done_ms, 50)
    for name, m in (("distributed", dist), ("embedded", emb)):
        single_p50 = pct(hello_1.done_ms, 50)
        print(
            f"  {name:<11}  1 phone: POST p50 / hello p50 {pct(m.single.post_ms, 50) / single_p50:.1f}x   "
            f"POST→done p50 / hello p50 {pct(m.single.done_ms, 50) / single_p50:.1f}x"
        )
        print(
            f"  {name:<11}  {PHONES} phones: throughput / hello {m.poll.rate / hello.rate:.3f}   "
            f"POST p50 / hello p50 {pct(m.poll.post_ms, 50) / hello_p50:.1f}x   "
            f"POST→done p50 / hello p50 {pct(m.poll.done_ms, 50) / hello_p50:.1f}x"
        )
    print(
        f"  distributed  1 phone: POST→done p50 / broker round trip p50 "
        f"{pct(dist.single.done_ms, 50) / pct(round_trips, 50):.1f}x"
    )
    print(
        f"  distributed / embedded  throughput {dist.poll.rate / emb.poll.rate:.2f}x, "
        f"POST→done p50 {pct(dist.poll.done_ms, 50) / pct(emb.poll.done_ms, 50):.2f}x"
    )
    print(
        f"  model predict p50 / distributed 1-phone POST→done p50 "
        f"{pct(model, 50) / pct(dist.single.done_ms, 50):.2f}x"
    )

    print("\n  CPU ms per scan (RabbitMQ and Redis: the whole shared server; 2 cores = 2000 ms per second)")
    for name, m in (("distributed", dist), ("embedded", emb)):
        for phase in (m.single, m.poll, m.cache_load):
            print(f"  {name:<11} {phase.name:<10} {_cpu_per_scan(phase)}")

    goals = (
        ("1 phone p50 POST→done < 40 ms (distributed)", pct(dist.single.done_ms, 50) < 40),
        (">= 100 scans/s (distributed)", dist.poll.rate >= 100),
        (">= 50 scans/s (embedded)", emb.poll.rate >= 50),
        ("cache hit p95 POST→done < 30 ms (distributed)", pct(dist.cache_seq.done_ms, 95) < 30),
    )
    print("\n  goals: " + "; ".join(f"{label}: {'met' if ok else 'MISSED'}" for label, ok in goals))


def main() -> None:
    photos = Photos()
    with tempfile.TemporaryDirectory(prefix="ecoeco-bench-waste-") as tmp:
        print("  distributed: serve + worker q.ai, PostgreSQL, Redis, RabbitMQ, moto_server S3", flush=True)
        dist, hello, round_trips = distributed(Path(tmp), photos)
        print("  embedded: ecoeco up (SQLite, in-process executor)", flush=True)
        emb = embedded(Path(tmp), photos)
    print("  local model inference", flush=True)
    model = model_inference_ms()
    report(dist, emb, hello, round_trips, model)
