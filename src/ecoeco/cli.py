"""The one command-line entry point: ``ecoeco …``.

Core commands live here and the queue's processes in ``ecoeco.workers`` (``ecoeco worker``, ``ecoeco dlq
list``); each domain may add its own by exposing ``register(app: typer.Typer)`` in its ``cli.py`` (e.g.
``ecoeco locations import``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer

from ecoeco import embedded, serving, workers
from ecoeco.app import create_app
from ecoeco.core.errors import BundledDataError
from ecoeco.db.engine import Database
from ecoeco.db.migrate import upgrade
from ecoeco.domains import DOMAINS, domain_modules, import_all_models
from ecoeco.ops import cli as ops_cli
from ecoeco.runtime import Backends, Probe, describe_backends
from ecoeco.settings import Settings
from ecoeco.startup import load_settings
from ecoeco.web import SERVICE as WEB_SERVICE

app = typer.Typer(
    name="ecoeco",
    help="ecoeco: the Eco² waste-sorting backend.",
    no_args_is_help=True,
    add_completion=False,
)


# Each API domain, and `web`: the web app's files alone (its own Deployment behind the Ingress's `/`).
SERVICES = (*DOMAINS, WEB_SERVICE)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the whole system in one process: APIs, workers and scheduler (embedded mode)."""
    settings = serving.public_settings(load_settings(), host=host, port=port)
    _migrate_or_refuse(settings, bundled_data=True)
    application = create_app(settings, hooks=embedded.HOOKS)
    typer.echo(f"ecoeco is up: {settings.public_url}  (API docs: {settings.public_url}/docs)")
    typer.echo(f"data dir: {settings.data_dir.resolve()}  backends: {_describe(settings)}")
    serving.run(application, settings, host=host, port=port)


@app.command()
def serve(
    service: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(SERVICES)}; all when omitted.")
    ] = None,
    host: Annotated[str, typer.Option()] = "0.0.0.0",  # noqa: S104 - a container listens on all interfaces
    port: Annotated[int, typer.Option()] = 8000,
    metrics_port: Annotated[
        int, typer.Option(help="Serve /metrics on this port, not on the public one; 0: on the public one.")
    ] = 0,
) -> None:
    """Serve the API (one service or all) without workers; the shape used on Kubernetes.

    One process, one event loop: scale with replicas (the HPA), not in-process workers, so each process keeps
    its own probes, metrics and memos and a crash takes down one pod's share only.
    """
    if service is not None and service not in SERVICES:
        typer.echo(f"unknown service {service!r}; choose from {', '.join(SERVICES)}", err=True)
        raise typer.Exit(2)
    settings = serving.public_settings(load_settings(), host=host, port=port)
    application = create_app(
        settings, services=(service,) if service else None, public_metrics=not metrics_port
    )
    serving.run(application, settings, host=host, port=port, metrics_port=metrics_port)


@app.command()
def migrate(
    bundled_data: Annotated[
        bool,
        typer.Option(help="Then load the data that ships with the product (collection points), once."),
    ] = False,
) -> None:
    """Bring the database schema up to date (all domains)."""
    settings = load_settings()
    _migrate_or_refuse(settings, bundled_data=bundled_data)
    typer.echo("database schema is up to date" + (", bundled data loaded" if bundled_data else ""))


@app.command()
def check(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Show which backend each dependency uses and whether it is reachable (exit 1 if not)."""
    settings = load_settings()
    probes = asyncio.run(_probe(settings))
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in probes], ensure_ascii=False))
    else:
        for p in probes:
            state = "ok" if p.ok else f"UNREACHABLE ({p.error})"
            typer.echo(f"{p.name:<9} {p.backend:<11} {state}  {p.latency_ms:.1f} ms")
    if not all(p.ok for p in probes):
        raise typer.Exit(1)


def _migrate_or_refuse(settings: Settings, *, bundled_data: bool) -> None:
    try:
        asyncio.run(_migrate(settings, bundled_data=bundled_data))
    except BundledDataError as exc:
        typer.echo(f"refusing to start: {exc}", err=True)
        raise typer.Exit(2) from exc


async def _migrate(settings: Settings, *, bundled_data: bool) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_dsn)
    try:
        await upgrade(db)
        if bundled_data:
            for module in domain_modules("bundled"):
                await module.load(db)
    finally:
        await db.dispose()


async def _probe(settings: Settings) -> list[Probe]:
    backends = Backends.from_settings(settings)
    try:
        return await backends.probe()
    finally:
        await backends.aclose()


def _describe(settings: Settings) -> str:
    return ", ".join(f"{k}={v}" for k, v in describe_backends(settings).items())


# Every table, so that a command touching one domain's tables sees the others' column types (see load_tasks).
import_all_models()
for _module in domain_modules("cli"):
    _module.register(app)
workers.register(app)
ops_cli.register(app)


def main() -> None:
    sys.exit(app())
