"""End-to-end task throughput and latency through RabbitMQ, next to the raw broker in the same run.

* ``ecoeco``: a no-op ``@task`` published the way the outbox relay publishes (Celery, publisher confirms)
  to the quorum queue ``q.api``, run by a real worker process (``threads`` pool, late acks) through the
  shared execution path (argument check, metrics, retry/dead-letter handling).
* ``raw``: the same quorum queue, persistent messages and confirms, consumed by a plain py-amqp consumer
  process with the same prefetch and per-message acks: what the broker alone costs on this machine.

Latency = publish start → task finished (wall clock, one machine). Two loads: paced at a moderate rate
(latency) and as fast as one publisher goes (throughput). The outbox's own database insert is not part
of the measured path. Runs on a dedicated vhost of the local broker, deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import amqp

from ecoeco.observability.logging import configure_logging
from ecoeco.queue import TaskContext, task
from ecoeco.queue.outbox import Message
from ecoeco.queue.topology import TASK_EXCHANGE, declare_topology, queue_spec
from ecoeco.settings import Settings

AMQP = os.environ.get("ECOECO_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672")
MODERATE_RATE = 500  # tasks/s for the latency phase
MODERATE_N = 1_500
PUBLISHERS = 8  # concurrent publishers, as concurrent API requests would be
BURST_N = 3_000
ROUNDS = 3
# The production settings of q.api's workers.
CONCURRENCY = queue_spec("q.api").concurrency
PREFETCH = CONCURRENCY * queue_spec("q.api").prefetch_multiplier
RESULTS = Path(os.environ.get("ECOECO_BENCH_RESULTS", tempfile.gettempdir()))

_seen: dict[str, list[tuple[float, float]]] = {}


def _record(phase: str, expected: int, sent: float) -> None:
    """Called by both consumers: keep (sent, done); write the phase's file when it is complete."""
    rows = _seen.setdefault(phase, [])
    rows.append((sent, time.time()))
    if len(rows) == expected:
        partial = RESULTS / f"{phase}.json.tmp"
        partial.write_text(json.dumps(rows))
        partial.replace(RESULTS / f"{phase}.json")  # the reader never sees a half-written file


@task("api.bench.noop", max_retries=0)
async def noop(ctx: TaskContext[Any], *, phase: str, expected: int, sent: float) -> None:
    _record(phase, expected, sent)


def _ctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


def run_ecoeco_worker(url: str) -> None:
    from ecoeco.queue.celery_worker import create_worker_app
    from ecoeco.runtime import Backends

    settings = Settings(broker_url=url, env="test", data_dir=Path(tempfile.mkdtemp()), log_json=False)
    app = create_worker_app(settings, {noop.name: noop}, Backends.from_settings)
    app.Worker(
        queues=["q.api"],
        pool="threads",
        concurrency=CONCURRENCY,
        prefetch_multiplier=PREFETCH // CONCURRENCY,
        without_gossip=True,
        without_mingle=True,
        loglevel="WARNING",
    ).start()


def run_raw_consumer(url: str) -> None:
    conn = _raw_connection(url)
    channel = conn.channel()
    channel.basic_qos(0, PREFETCH, False)

    def on_message(message: amqp.Message) -> None:
        body = json.loads(message.body)
        _record(body["phase"], body["expected"], body["sent"])
        channel.basic_ack(message.delivery_tag or 0)

    channel.basic_consume("q.api", callback=on_message)
    while True:
        conn.drain_events()


def _raw_connection(url: str) -> amqp.Connection:
    vhost = url.rsplit("/", 1)[1]
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest", virtual_host=vhost)  # noqa: S106
    conn.connect()
    return conn


def _publisher(kind: str, url: str) -> tuple[Callable[[str, int], None], Callable[[], None]]:
    if kind == "raw":
        conn = _raw_connection(url)
        channel = conn.channel()
        channel.confirm_select()

        def publish_raw(phase: str, expected: int) -> None:
            body = json.dumps({"phase": phase, "expected": expected, "sent": time.time()})
            message = amqp.Message(body, content_type="application/json", delivery_mode=2)
            while True:
                try:
                    channel.basic_publish_confirm(
                        message, exchange=TASK_EXCHANGE, routing_key="api.bench.raw"
                    )
                    return
                except amqp.exceptions.MessageNacked:
                    time.sleep(0.01)  # full queue: same back-off as the task publisher

        return publish_raw, conn.close

    from ecoeco.queue.celery_app import create_celery, publish_messages

    app = create_celery(Settings(broker_url=url, env="test"))

    def publish_task(phase: str, expected: int) -> None:
        now = time.time()
        kwargs = {"phase": phase, "expected": expected, "sent": now}
        message = Message(str(uuid.uuid4()), noop.name, noop.routing_key, kwargs, now)
        while not publish_messages(app, [message]):
            time.sleep(0.01)  # q.api is full (reject-publish): back off as the outbox relay would

    return publish_task, app.close


def _phase(kind: str, url: str, name: str, count: int, rate: float | None) -> dict[str, float]:
    """Publish ``count`` messages from PUBLISHERS threads (concurrent API requests), paced to ``rate``."""
    phase = f"{kind}-{name}-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()

    def publisher(index: int) -> None:
        publish, close = _publisher(kind, url)
        try:
            for i in range(index, count, PUBLISHERS):
                if rate is not None:
                    delay = started + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)  # pacing the publisher, not waiting for a result
                publish(phase, count)
        finally:
            close()

    with ThreadPoolExecutor(PUBLISHERS) as pool:
        list(pool.map(publisher, range(PUBLISHERS)))
    result = RESULTS / f"{phase}.json"
    deadline = time.monotonic() + 120
    while not result.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} {name}: consumer did not finish")
        time.sleep(0.05)
    rows: list[tuple[float, float]] = json.loads(result.read_text())
    result.unlink()
    latencies = sorted((done - sent) * 1000 for sent, done in rows)
    span = max(done for _, done in rows) - min(sent for sent, _ in rows)
    return {
        "tasks_per_s": len(rows) / span,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


def _run(kind: str, url: str) -> dict[str, dict[str, float]]:
    env = os.environ | {"ECOECO_BENCH_RESULTS": str(RESULTS), "PYTHONPATH": str(Path(__file__).parents[1])}
    consumer = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_queue", kind, url], env=env, stdout=subprocess.DEVNULL
    )
    try:
        _phase(kind, url, "warmup", 200, None)  # also waits until the consumer is up
        return {
            "moderate": _phase(kind, url, "moderate", MODERATE_N, MODERATE_RATE),
            "burst": _phase(kind, url, "burst", BURST_N, None),
        }
    finally:
        consumer.terminate()
        consumer.wait(30)


def main() -> None:
    global RESULTS
    configure_logging("ERROR", json=False)  # a full queue's rejected publishes are expected here
    RESULTS = Path(tempfile.mkdtemp(prefix="ecoeco-bench-queue-"))
    vhost = f"ecoeco_bench_{uuid.uuid4().hex[:8]}"
    _ctl("add_vhost", vhost)
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"raw": [], "ecoeco": []}
    try:
        _ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        url = f"{AMQP}/{vhost}"
        declare_topology(url)
        for _ in range(ROUNDS):  # alternate, so both see the same share of the machine's noise
            for kind in runs:
                runs[kind].append(_run(kind, url))
    finally:
        _ctl("delete_vhost", vhost)
        shutil.rmtree(RESULTS, ignore_errors=True)
    setup = f"{PUBLISHERS} publishers, prefetch {PREFETCH}, worker threads x{CONCURRENCY}"
    print(f"q.api (quorum), publisher confirms, {setup}; median of {ROUNDS} alternating rounds")
    for load, label in (
        ("moderate", f"moderate load ({MODERATE_RATE}/s x {MODERATE_N})"),
        ("burst", f"burst ({BURST_N} as fast as possible)"),
    ):
        raw, ours = (_median([r[load] for r in runs[kind]]) for kind in ("raw", "ecoeco"))
        print(f"{label}:")
        for kind, r in (("raw amqp", raw), ("ecoeco task", ours)):
            figures = (
                f"{r['tasks_per_s']:8.0f} tasks/s   p50 {r['p50_ms']:7.2f} ms   p99 {r['p99_ms']:7.2f} ms"
            )
            print(f"  {kind:<12} {figures}")
        print(
            f"  ratio ecoeco/raw: throughput {ours['tasks_per_s'] / raw['tasks_per_s']:.2f}x, "
            f"p50 {ours['p50_ms'] / raw['p50_ms']:.2f}x, p99 {ours['p99_ms'] / raw['p99_ms']:.2f}x"
        )


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


if __name__ == "__main__":
    if sys.argv[1] == "ecoeco":
        run_ecoeco_worker(sys.argv[2])
    else:
        run_raw_consumer(sys.argv[2])
