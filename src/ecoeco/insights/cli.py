"""``ecoeco stats …``: the daily numbers, what the knowledge base could not answer, the weekly reports."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ecoeco.core.clock import utcnow
from ecoeco.db.engine import Database
from ecoeco.insights import service
from ecoeco.insights.schemas import WEEK_PATTERN
from ecoeco.settings import get_settings
from ecoeco.waste.service.activity import Miss

stats_app = typer.Typer(help="Operator statistics and the weekly reports.", no_args_is_help=True)
T = TypeVar("T")
_SPAN = re.compile(r"^(\d+)([hd])$")


def register(app: typer.Typer) -> None:
    app.add_typer(stats_app, name="stats")


def _span(text: str) -> dt.timedelta:
    match = _SPAN.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r}: expected a number of hours or days, e.g. 12h or 7d")
    n = int(match.group(1))
    return dt.timedelta(hours=n) if match.group(2) == "h" else dt.timedelta(days=n)


@stats_app.command("daily")
def daily(days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back.")] = 30) -> None:
    """The numbers the 02:00 job counted for each Korean day (scans, cache hits, tasks …)."""
    table = asyncio.run(_in_db(lambda db: _daily(db, days)))
    metrics = sorted({m for values in table.values() for m in values})
    out = Table("day", *metrics)
    for day in sorted(table):
        out.add_row(day.isoformat(), *(str(table[day].get(m, "")) for m in metrics))
    Console(width=200).print(out)


async def _daily(db: Database, days: int) -> dict[dt.date, dict[str, int]]:
    async with db.session() as session:
        return await service.daily_numbers(session, days)


@stats_app.command("misses")
def misses(
    since: Annotated[str, typer.Option(help="How far back: 12h, 7d …")] = "7d",
    limit: Annotated[int, typer.Option(min=1, help="Show the most frequent this many.")] = 50,
) -> None:
    """Questions and photos the knowledge base could not answer, grouped and counted."""
    start = utcnow() - _span(since)
    found = asyncio.run(_in_db(lambda db: _misses(db, start)))
    out = Table("count", "asked", "why")
    for miss in found[:limit]:
        out.add_row(str(miss.count), miss.what, miss.why)
    Console(width=200).print(out)


async def _misses(db: Database, start: dt.datetime) -> list[Miss]:
    async with db.session() as session:
        return await service.misses(session, start)


@stats_app.command("weekly")
def weekly(
    week: Annotated[str | None, typer.Option(help="ISO week, e.g. 2026-W49; default: last week.")] = None,
) -> None:
    """Write the weekly reports now (what Beat runs on Mondays); resumes a run that was cut short."""
    if week is not None and not re.match(WEEK_PATTERN, week):
        raise typer.BadParameter(f"{week!r}: expected an ISO week such as 2026-W49")
    chosen = week or service.week_before(utcnow())
    settings = get_settings()
    progress = asyncio.run(
        _in_db(lambda db: service.write_weekly_reports(db, chosen, batch_size=settings.insights_batch_size))
    )
    typer.echo(f"{chosen}: {progress.processed} users' reports written")


async def _in_db(work: Callable[[Database], Awaitable[T]]) -> T:
    db = Database(get_settings().database_dsn)
    try:
        return await work(db)
    finally:
        await db.dispose()
