"""The collection points that ship with the product: intact, loaded once, never over an operator's data."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from typer.testing import CliRunner

from ecoeco.cli import app
from ecoeco.db.engine import Database
from ecoeco.db.migrate import alembic_config, upgrade
from ecoeco.locations import bundled, service
from ecoeco.locations.importer import SourceFormat
from ecoeco.settings import Settings
from tests.locations.conftest import KECO


def test_the_files_are_the_ones_recorded_and_documented() -> None:
    sources = (bundled.DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for file in bundled.BUNDLED:
        data = (bundled.DATA_DIR / file.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file.sha256, file.name
        assert bundled.read(file) == data
        assert f"| `{file.name}` | `{file.sha256}` |" in sources
    assert sorted(p.name for p in bundled.DATA_DIR.glob("*.csv")) == sorted(f.name for f in bundled.BUNDLED)


@pytest.fixture
def tampered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the data folder with one byte of the zero-waste file changed."""
    copy = tmp_path / "bundled"
    shutil.copytree(bundled.DATA_DIR, copy)
    damaged = copy / "zerowaste_shops.csv"
    data = bytearray(damaged.read_bytes())
    data[-2] ^= 1
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(bundled, "DATA_DIR", copy)
    return damaged


def count(settings: Settings, where: str = "closed_at IS NULL") -> dict[str, int]:
    async def read() -> dict[str, int]:
        db = Database(settings.database_dsn)
        try:
            async with db.engine.connect() as conn:
                sql = f"SELECT source, count(*) FROM locations WHERE {where} GROUP BY source"
                return {r[0]: r[1] for r in await conn.execute(text(sql))}
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_damaged_file_stops_the_start_with_its_name(configured: Settings, tampered: Path) -> None:
    for args in (["up"], ["migrate", "--bundled-data"], ["locations", "import", "--bundled"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        flat = " ".join(result.output.split())
        assert str(tampered) in flat and "is damaged or was changed" in flat, flat
    # Every file is checked before any is written: the intact KECO file was not loaded either.
    assert count(configured) == {}


def test_the_first_start_loads_and_later_starts_skip(configured: Settings) -> None:
    result = CliRunner().invoke(app, ["migrate", "--bundled-data"])
    assert result.exit_code == 0, result.output
    assert "bundled data loaded" in result.output
    assert count(configured) == {"keco": 395, "zerowaste": 351}

    async def again() -> list[bundled.Outcome]:
        db = Database(configured.database_dsn)
        try:
            return await bundled.load(db)
        finally:
            await db.dispose()

    outcomes = asyncio.run(again())
    assert [(o.file.source, o.summary, o.skipped) for o in outcomes] == [
        ("keco", None, "loaded already"),
        ("zerowaste", None, "loaded already"),
    ]


async def test_an_operators_newer_file_of_a_source_is_not_replaced(db: Database) -> None:
    # The operator imports a newer KECO file (here: the bundled one without its last 20 lines).
    newer = b"\n".join(KECO.read_bytes().split(b"\n")[:-20]) + b"\n"
    mine = await service.import_file(db, newer, "keco_2027.csv", SourceFormat.KECO)
    outcomes = {o.file.source: o for o in await bundled.load(db)}
    assert outcomes["keco"].skipped == "an operator imported keco_2027.csv; it is left as it is"
    assert outcomes["zerowaste"].summary is not None
    async with db.engine.connect() as conn:
        sql = text("SELECT source, count(*) FROM locations GROUP BY source")
        rows = {r[0]: r[1] for r in await conn.execute(sql)}
    assert rows == {"keco": mine.ok, "zerowaste": 351}


async def test_a_newer_bundled_file_converges(db: Database) -> None:
    await bundled.load(db)
    async with db.engine.begin() as conn:
        # As if an older release had shipped an older file, listing one more site.
        await conn.execute(text("UPDATE location_imports SET sha256 = 'older' WHERE source = 'keco'"))
        await conn.execute(
            text(
                "INSERT INTO locations (source, source_id, name, lat, lon, kind, category_mask, extra,"
                " search_name, search_text, search_initials, created_at, updated_at) VALUES"
                " ('keco', '9999', '없어진 가게', 37.5, 127.0, 'recycling_compensation', 0, '{}', '', '', '',"
                " :now, :now)"
            ),
            {"now": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    outcomes = {o.file.source: o for o in await bundled.load(db)}
    summary = outcomes["keco"].summary
    assert summary is not None
    assert (summary.inserted, summary.updated, summary.closed) == (0, 395, [("9999", "없어진 가게")])
    assert outcomes["zerowaste"].skipped == "loaded already"
    async with db.engine.connect() as conn:
        open_rows = (
            await conn.execute(text("SELECT count(*) FROM locations WHERE closed_at IS NULL"))
        ).scalar()
    assert open_rows == 395 + 351


async def test_sources_present_before_the_upgrade_count_as_the_operators(db: Database) -> None:
    def migrate_to(revision: str) -> Callable[[Connection], None]:
        def run(conn: Connection) -> None:
            cfg = alembic_config(db.url)
            cfg.attributes["connection"] = conn
            if revision == "heads":
                command.upgrade(cfg, revision)
            else:
                command.downgrade(cfg, revision)

        return run

    async with db.engine.begin() as conn:
        await conn.run_sync(migrate_to("locations_0002"))
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO locations (source, source_id, name, lat, lon, kind, category_mask, extra,"
                    " search_name, search_text, search_initials, created_at, updated_at) VALUES"
                    " ('keco', '1', '이미 있던 곳', 37.5, 127.0, 'other', 0, '{}', '', '', '', :t, :t)"
                ),
                {"t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    finally:
        await upgrade(db)
    outcomes = {o.file.source: o for o in await bundled.load(db)}
    assert outcomes["keco"].skipped == "an operator imported its data; it is left as it is"
    assert outcomes["zerowaste"].summary is not None
