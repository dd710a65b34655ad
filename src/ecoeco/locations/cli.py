"""``ecoeco locations import FILE|--bundled``: load collection-point data into the configured database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecoeco.core.errors import BundledDataError
from ecoeco.db.engine import Database
from ecoeco.db.migrate import upgrade
from ecoeco.db.sql import is_sqlite
from ecoeco.locations import bundled, service
from ecoeco.locations.importer import SIMPLE_FIELDS, ImportFileError, SourceFormat
from ecoeco.locations.models import Kind
from ecoeco.locations.projection import Projection
from ecoeco.settings import get_settings

locations_app = typer.Typer(help="Collection points: import public data.", no_args_is_help=True)

Progressed = Callable[[int, int], None]


def register(app: typer.Typer) -> None:
    app.add_typer(locations_app, name="locations")


def _columns(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, header = pair.partition("=")
        if not sep or not header or field not in SIMPLE_FIELDS:
            raise typer.BadParameter(
                f"{pair!r}: expected FIELD=HEADER with FIELD one of {', '.join(SIMPLE_FIELDS)}"
            )
        mapping[field] = header
    return mapping


@locations_app.command("import")
def import_command(
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")
    ] = None,
    fmt: Annotated[
        SourceFormat | None, typer.Option("--format", help="keco: the public-data file as published.")
    ] = None,
    bundled_files: Annotated[
        bool,
        typer.Option(
            "--bundled", help="The files that ship with ecoeco instead of FILE (skips loaded ones)."
        ),
    ] = False,
    source: Annotated[
        str | None, typer.Option(help="simple-csv: the data set's name (default: the file name).")
    ] = None,
    kind: Annotated[Kind, typer.Option(help="simple-csv: kind of rows without a kind column.")] = Kind.OTHER,
    column: Annotated[
        list[str] | None,
        typer.Option(help="simple-csv: FIELD=HEADER when the file names a column differently; repeatable."),
    ] = None,
    xy: Annotated[
        Projection | None,
        typer.Option(help="simple-csv: place rows without lat/lon by their x/y in this projection."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each summary as a JSON line.")] = False,
) -> None:
    """Import a file as the current state of its source, in one transaction.

    Rows are upserted by (source, source id); points of the same source the file no longer lists are
    closed (kept, not searched); bad rows are listed, not fatal. Other sources are never touched.
    """
    if bundled_files == (file is not None):
        raise typer.BadParameter("give a FILE (with --format) or --bundled, not both")
    console = Console(stderr=as_json)
    columns = _columns(column or [])

    async def shipped(db: Database, progress: Progressed) -> list[service.ImportSummary]:
        outcomes = await bundled.load(db, dry_run=dry_run, progress=progress)
        for o in outcomes:
            if o.skipped:
                console.print(f"{o.file.name}: skipped, {o.skipped}")
        return [o.summary for o in outcomes if o.summary is not None]

    work: Callable[[Database, Progressed], Awaitable[list[service.ImportSummary]]] = shipped
    if file is not None:
        if fmt is None:
            raise typer.BadParameter("FILE needs --format keco or --format simple-csv")
        data, name, file_format = file.read_bytes(), file.name, fmt

        async def one(db: Database, progress: Progressed) -> list[service.ImportSummary]:
            summary = await service.import_file(
                db, data, name, file_format, source=source, kind=kind, columns=columns, xy=xy,
                dry_run=dry_run, progress=progress,
            )  # fmt: skip
            return [summary]

        work = one

    try:
        summaries = asyncio.run(_run(work, console))
    except (ImportFileError, BundledDataError) as exc:
        name = file.name if file is not None else "bundled data"
        console.print(f"[red]cannot import {name}:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    for summary in summaries:
        if as_json:
            typer.echo(json.dumps(service.summary_json(summary), ensure_ascii=False))
        else:
            _print(console, summary)


async def _run(
    work: Callable[[Database, Progressed], Awaitable[list[service.ImportSummary]]], console: Console
) -> list[service.ImportSummary]:
    settings = get_settings()
    db = Database(settings.database_dsn)
    try:
        if is_sqlite(settings.database_dsn):
            # Embedded mode migrates on start (`ecoeco up`); importing first must work too.
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            await upgrade(db)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("import", total=None)
            return await work(db, lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        await db.dispose()


def _print(console: Console, summary: service.ImportSummary) -> None:
    if summary.rejected:
        table = Table("line", "id", "reason", "detail", title=f"{len(summary.rejected)} rejected rows")
        for r in summary.rejected:
            table.add_row(str(r.line), r.source_id or "", r.reason, r.detail)
        console.print(table)
    if summary.closed:
        verb = "would close" if summary.dry_run else "closed"
        table = Table(
            "id", "name", title=f"{verb}: {len(summary.closed)} points {summary.source} no longer lists"
        )
        for source_id, name in summary.closed:
            table.add_row(source_id, name)
        console.print(table)
    if summary.projection is not None:
        console.print(f"x/y check: {summary.projection.describe()}")
    prefix = "DRY RUN, nothing written: " if summary.dry_run else ""
    console.print(
        f"{prefix}{summary.path} ({summary.encoding}) as source {summary.source!r}: {summary.rows} rows, "
        f"{summary.ok} ok ({summary.inserted} new, {summary.updated} updated, {summary.reopened} reopened; "
        f"{summary.converted} placed from x/y, {summary.fixed} with name and address untangled), "
        f"{len(summary.rejected)} rejected, {len(summary.closed)} closed; "
        f"{summary.without_categories} without accepted items, {summary.without_hours} without opening hours",
        soft_wrap=True,
    )
