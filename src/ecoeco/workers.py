"""The queue's processes and tools: ``ecoeco worker``, ``ecoeco beat``, ``ecoeco mq`` and ``ecoeco dlq``."""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from ecoeco.domains import load_tasks
from ecoeco.queue.beat import Scheduler
from ecoeco.queue.deadletters import DeadLetters, Filter, dead_letters
from ecoeco.queue.topology import WORK_QUEUES, declare_topology, queue_depths, queue_spec
from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from ecoeco.startup import load_settings

T = TypeVar("T")
METRICS_DIR_PREFIX = "ecoeco-metrics-"

mq = typer.Typer(help="RabbitMQ topology: declare/verify it, show queue depths.", no_args_is_help=True)
dlq = typer.Typer(help="Dead letters: list, show, replay, purge.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(beat)
    app.add_typer(mq, name="mq")
    app.add_typer(dlq, name="dlq")


def _settings(*, broker: bool) -> Settings:
    settings = load_settings()
    if broker and not settings.broker_url:
        typer.echo("ECOECO_BROKER_URL is not set (embedded mode runs tasks inside `ecoeco up`)", err=True)
        raise typer.Exit(2)
    return settings


def _report_topology(url: str) -> bool:
    """Declare the topology and print drift; True when everything matches."""
    results = declare_topology(url)
    for result in results:
        if result.status != "ok":
            typer.echo(f"DRIFT {result.name}: {result.detail}", err=True)
    return all(r.status == "ok" for r in results)


def worker(
    queue: Annotated[str, typer.Option(help=", ".join(q.name for q in WORK_QUEUES))],
    concurrency: Annotated[int | None, typer.Option(help="Execution slots (default: per queue).")] = None,
    pool: Annotated[str | None, typer.Option(help="threads | prefork | solo (default: per queue).")] = None,
    metrics_port: Annotated[int, typer.Option(help="Serve Prometheus /metrics here; 0 = off.")] = 9100,
) -> None:
    """Run a Celery worker for one queue (one Kubernetes Deployment per queue)."""
    settings = _settings(broker=True)
    try:
        spec = queue_spec(queue)
    except KeyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    chosen_pool = pool or spec.pool
    if chosen_pool == "prefork" and metrics_port and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Prefork children count in their own memory; multiprocess mode must be on before any metric
        # exists, so start over with it set.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)
        os.execv(sys.argv[0], sys.argv)  # noqa: S606 - re-executing ourselves with the same arguments
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if os.path.basename(metrics_dir).startswith(METRICS_DIR_PREFIX):
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)  # ours: remove it when we exit

    from ecoeco.queue.celery_worker import create_worker_app

    assert settings.broker_url  # noqa: S101 - checked by _settings
    if not _report_topology(settings.broker_url):
        typer.echo("continuing with the existing queues; run `ecoeco mq declare` after fixing them", err=True)
    app = create_worker_app(settings, load_tasks(settings), Backends.from_settings)
    if metrics_port:
        _serve_metrics(metrics_port, settings.broker_url, queue)
    celery_worker = app.Worker(
        queues=[queue],
        pool=chosen_pool,
        concurrency=concurrency or spec.concurrency,
        prefetch_multiplier=spec.prefetch_multiplier,
        hostname=f"{queue}@{socket.gethostname()}",
        without_gossip=True,
        without_mingle=True,
        optimization="fair",
    )
    celery_worker.start()
    raise typer.Exit(celery_worker.exitcode or 0)


def _serve_metrics(port: int, broker_url: str, queue: str | None) -> None:
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    from ecoeco.queue.metrics import QueueCollector

    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(QueueCollector(broker_url, queue))
    start_http_server(port, registry=registry)


def beat(
    metrics_port: Annotated[int, typer.Option(help="Serve Prometheus /metrics here; 0 = off.")] = 9101,
) -> None:
    """Run the scheduler (and the outbox relay). Start as many as you like: one leads, the rest wait."""
    settings = _settings(broker=True)
    assert settings.broker_url  # noqa: S101 - checked by _settings
    _report_topology(settings.broker_url)
    if metrics_port:
        _serve_metrics(metrics_port, settings.broker_url, None)

    async def run() -> None:
        backends = Backends.from_settings(settings)
        scheduler = Scheduler(backends, load_tasks(settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, scheduler.stop)
        try:
            await scheduler.run()
        finally:
            await backends.aclose()

    asyncio.run(run())


@mq.command("declare")
def mq_declare() -> None:
    """Declare exchanges, queues and bindings; report queues whose arguments drifted (exit 1)."""
    settings = _settings(broker=True)
    assert settings.broker_url  # noqa: S101 - checked by _settings
    results = declare_topology(settings.broker_url)
    for r in results:
        typer.echo(f"{r.status:<6} {r.name:<14} {r.detail}")
    if any(r.status != "ok" for r in results):
        raise typer.Exit(1)


@mq.command("status")
def mq_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Ready messages and consumers of every queue."""
    settings = _settings(broker=True)
    assert settings.broker_url  # noqa: S101 - checked by _settings
    depths = queue_depths(settings.broker_url)
    if as_json:
        typer.echo(json.dumps([d.__dict__ for d in depths]))
        return
    for d in depths:
        typer.echo(f"{d.name:<8} ready {d.ready:>6}  consumers {d.consumers}")


_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(value: str | None) -> dt.timedelta | None:
    if value is None:
        return None
    match = _AGE.match(value.strip())
    if not match:
        raise typer.BadParameter(f"{value!r} is not an age like 30s, 15m, 2h or 7d")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


TaskOpt = Annotated[str | None, typer.Option("--task", help="Task name glob, e.g. 'ai.waste.*'.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Substring of the reason or error.")]
OlderOpt = Annotated[str | None, typer.Option("--older-than", help="Age such as 2h or 7d.")]
NewerOpt = Annotated[str | None, typer.Option("--newer-than", help="Age such as 30m.")]


def _filter(
    task: str | None, reason: str | None, older: str | None, newer: str | None, id_: str | None = None
) -> Filter:
    return Filter(task=task, reason=reason, older_than=parse_age(older), newer_than=parse_age(newer), id=id_)


def _with_store(action: Callable[[DeadLetters], Awaitable[T]]) -> T:
    settings = _settings(broker=False)

    async def run() -> T:
        backends = Backends.from_settings(settings)
        try:
            return await action(dead_letters(backends))
        finally:
            await backends.aclose()

    return asyncio.run(run())


@dlq.command("list")
def dlq_list(
    task: TaskOpt = None,
    reason: ReasonOpt = None,
    older_than: OlderOpt = None,
    newer_than: NewerOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List dead letters, oldest first."""
    where = _filter(task, reason, older_than, newer_than)
    letters = _with_store(lambda store: store.find(where, limit))
    if as_json:
        typer.echo(json.dumps([x.as_dict() for x in letters], ensure_ascii=False))
        return
    for x in letters:
        when = x.failed_at.isoformat(timespec="seconds") if x.failed_at else "?"
        typer.echo(f"{x.id}  {when}  {x.task:<28} {x.reason:<18} {x.error[:80]}")
    typer.echo(f"{len(letters)} dead letter(s)")


@dlq.command("show")
def dlq_show(task_id: Annotated[str, typer.Argument(help="The dead task's id.")]) -> None:
    """Everything kept about one dead letter."""
    where = _filter(None, None, None, None, task_id)
    letters = _with_store(lambda store: store.find(where, 1))
    if not letters:
        typer.echo(f"no dead letter with id {task_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(letters[0].as_dict(), ensure_ascii=False, indent=2))


@dlq.command("replay")
def dlq_replay(
    task_id: Annotated[str | None, typer.Argument(help="One dead letter; omit to use the filters.")] = None,
    task: TaskOpt = None,
    reason: ReasonOpt = None,
    older_than: OlderOpt = None,
    newer_than: NewerOpt = None,
) -> None:
    """Send matching dead letters back to their original routing key (as new task ids)."""
    where = _filter(task, reason, older_than, newer_than, task_id)
    new_ids = _with_store(lambda store: store.replay(where))
    typer.echo(f"replayed {len(new_ids)} dead letter(s)")


@dlq.command("purge")
def dlq_purge(
    task: TaskOpt = None,
    reason: ReasonOpt = None,
    older_than: OlderOpt = None,
    newer_than: NewerOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete matching dead letters for good (asks first)."""
    where = _filter(task, reason, older_than, newer_than)
    matching = _with_store(lambda store: store.find(where, 10_000))
    if not matching:
        typer.echo("nothing to purge")
        return
    if not yes and not typer.confirm(f"Delete {len(matching)} dead letter(s) for good?"):
        raise typer.Exit(1)
    typer.echo(f"purged {_with_store(lambda store: store.purge(where))} dead letter(s)")
