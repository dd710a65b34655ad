"""``ecoeco locations import FILE``: load public collection-point data into the configured database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecoeco.db.engine import Database
from ecoeco.db.migrate import upgrade
from ecoeco.db.sql import is_sqlite
from ecoeco.locations import service
from ecoeco.locations.importer import SIMPLE_FIELDS, ImportFileError, SourceFormat
from ecoeco.locations.models import Kind
from ecoeco.settings import get_settings

locations_app = typer.Typer(help="Collection points: import public data.", no_args_is_help=True)


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
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")],
    fmt: Annotated[SourceFormat, typer.Option("--format", help="keco: the public-data file as published.")],
    source: Annotated[
        str | None, typer.Option(help="simple-csv: the data set's name (default: the file name).")
    ] = None,
    kind: Annotated[Kind, typer.Option(help="simple-csv: kind of rows without a kind column.")] = Kind.OTHER,
    column: Annotated[
        list[str] | None,
        typer.Option(help="simple-csv: FIELD=HEADER when the file names a column differently; repeatable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Upsert a CSV of collection points by (source, source id); bad rows are listed, not fatal."""
    settings = get_settings()
    console = Console(stderr=as_json)
    columns = _columns(column or [])
    data = file.read_bytes()

    async def run() -> service.ImportSummary:
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
                return await service.import_file(
                    db,
                    data,
                    file.name,
                    fmt,
                    source=source,
                    kind=kind,
                    columns=columns,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            await db.dispose()

    try:
        summary = asyncio.run(run())
    except ImportFileError as exc:
        console.print(f"[red]cannot import {file.name}:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(service.summary_json(summary))
        return
    _print(console, summary)


def _print(console: Console, summary: service.ImportSummary) -> None:
    if summary.rejected:
        table = Table("line", "id", "reason", "detail", title=f"{len(summary.rejected)} rejected rows")
        for r in summary.rejected:
            table.add_row(str(r.line), r.source_id or "", r.reason, r.detail)
        console.print(table)
    console.print(
        f"{summary.path} ({summary.encoding}): {summary.rows} rows, {summary.ok} ok "
        f"({summary.inserted} new, {summary.updated} updated), {len(summary.rejected)} rejected; "
        f"{summary.without_categories} without accepted items, {summary.without_hours} without opening hours"
    )
