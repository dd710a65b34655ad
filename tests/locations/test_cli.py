"""``ecoeco locations import`` against the configured database of each backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ecoeco.cli import app
from ecoeco.db.engine import Database
from ecoeco.locations import repository
from ecoeco.settings import Settings
from tests.locations.conftest import KECO, ZERO_WASTE


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["locations", "import", *args])
    # --json summaries are stdout's lines. Log lines go to stderr, which output interleaves, and a module's
    # logger keeps the JSON rendering of the first test that used it (structlog caches loggers).
    return result.exit_code, result.stdout if "--json" in args else result.output


def summaries(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def snapshot(settings: Settings) -> list[tuple[Any, ...]]:
    """Every row of the locations tables, to show that a command wrote nothing."""

    async def read() -> list[tuple[Any, ...]]:
        db = Database(settings.database_dsn)
        try:
            async with db.engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT source, source_id, name, closed_at, updated_at FROM locations ORDER BY id")
                )
                imports = await conn.execute(text("SELECT * FROM location_imports ORDER BY source"))
                return [tuple(r) for r in rows] + [tuple(r) for r in imports]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_import_both_files_twice(configured: Settings) -> None:
    code, out = run(str(KECO), "--format", "keco", "--json")
    assert code == 0, out
    [summary] = summaries(out)
    counts = ("rows", "inserted", "updated", "converted", "closed")
    assert [summary[k] for k in counts] == [409, 395, 0, 0, []]
    assert len(summary["rejected"]) == 14
    code, out = run(str(KECO), "--format", "keco", "--json")
    assert [summaries(out)[0][k] for k in ("inserted", "updated", "closed")] == [0, 395, []]

    columns = ["--column", "id=key", "--column", "name=display1", "--column", "address=display2"]
    code, out = run(str(ZERO_WASTE), "--format", "simple-csv", "--kind", "zero_waste_shop", *columns)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "351 rows, 201 ok (201 new, 0 updated, 0 reopened; 0 placed from x/y" in flat
    assert "150 rejected, 0 closed" in flat
    assert "missing-coordinates" in out
    # The same file with its x/y read: the 150 join, nothing is duplicated.
    code, out = run(str(ZERO_WASTE), "--format", "simple-csv", "--xy", "wcongnamul", *columns)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "x/y check: 201 rows with both: max error 0.53 m" in flat
    assert "351 rows, 351 ok (150 new, 201 updated, 0 reopened; 150 placed from x/y" in flat


def test_bundled_data_loads_once_and_leaves_other_sources_alone(configured: Settings, tmp_path: Path) -> None:
    mine = tmp_path / "battery_boxes.csv"
    mine.write_text("id,name,lat,lon,categories\nb1,구청 폐건전지 수거함,37.5663,126.9779,battery\n")
    assert run(str(mine), "--format", "simple-csv")[0] == 0
    before = [r for r in snapshot(configured) if r[0] == "battery_boxes"]

    code, out = run("--bundled", "--json")
    assert code == 0, out
    keco, zero_waste = summaries(out)
    assert (keco["source"], keco["ok"], len(keco["rejected"])) == ("keco", 395, 14)
    assert (zero_waste["source"], zero_waste["ok"], zero_waste["rejected"]) == ("zerowaste", 351, [])
    assert (zero_waste["converted"], zero_waste["fixed"]) == (150, 13)
    assert zero_waste["projection_check"]["rows"] == 201
    assert zero_waste["projection_check"]["max_m"] < 2

    state = snapshot(configured)
    code, out = run("--bundled")
    assert code == 0, out
    assert "keco_recycle_compensation_sites.csv: skipped, loaded already" in out
    assert "zerowaste_shops.csv: skipped, loaded already" in out
    assert snapshot(configured) == state  # a later start writes nothing
    assert [r for r in state if r[0] == "battery_boxes"] == before  # the operator's rows are untouched


def test_dry_run_shows_what_would_close_and_writes_nothing(configured: Settings, tmp_path: Path) -> None:
    shops = tmp_path / "shops.csv"
    shops.write_text("id,name,lat,lon\n1,리필가게,37.5,127.0\n2,사라진 가게,37.6,127.0\n")
    assert run(str(shops), "--format", "simple-csv")[0] == 0
    shops.write_text("id,name,lat,lon\n1,리필가게,37.5,127.0\n3,새 가게,37.7,127.0\n")
    state = snapshot(configured)

    code, out = run(str(shops), "--format", "simple-csv", "--dry-run")
    assert code == 0, out
    flat = " ".join(out.split())
    assert "would close: 1 points shops no longer lists" in flat and "사라진 가게" in flat
    assert "DRY RUN, nothing written" in flat and "(1 new, 1 updated, 0 reopened;" in flat
    assert snapshot(configured) == state

    code, out = run(str(shops), "--format", "simple-csv", "--json")
    assert summaries(out)[0]["closed"] == [{"source_id": "2", "name": "사라진 가게"}]
    assert snapshot(configured) != state


def test_bad_input_exits_2_and_writes_nothing(configured: Settings, tmp_path: Path) -> None:
    assert run(str(KECO), "--format", "keco")[0] == 0
    state = snapshot(configured)

    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"name,lat,lon\n\xff\xfe,37.5,127\n")
    code, out = run(str(broken), "--format", "simple-csv")
    assert (code, "line 2" in out) == (2, True)
    # Another source's file under --format keco.
    code, out = run(str(ZERO_WASTE), "--format", "keco")
    assert code == 2
    assert "not the KECO recycling-compensation file as published" in " ".join(out.split())
    # The KECO file with a column set of its own.
    renamed = tmp_path / "keco_renamed.csv"
    renamed.write_bytes(KECO.read_bytes().replace(b"positnPstnLat", b"latitude", 1))
    code, out = run(str(renamed), "--format", "keco")
    assert (code, "missing column(s) positnPstnLat" in " ".join(out.split())) == (2, True)
    # A header without rows would close every point of the source.
    empty = tmp_path / "keco_recycle_compensation_sites.csv"
    empty.write_bytes(KECO.read_bytes().split(b"\n", 1)[0] + b"\n")
    assert run(str(empty), "--format", "keco")[0] == 2
    code, out = run(str(ZERO_WASTE), "--format", "simple-csv", "--column", "colour=display1")
    assert code == 2
    assert "FIELD=HEADER" in " ".join(out.split())
    code, out = run("--format", "keco")
    assert (code, "give a FILE" in out) == (2, True)
    assert snapshot(configured) == state


def test_a_failure_half_way_leaves_nothing_written(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fail(*args: object) -> None:
        raise RuntimeError("the disk is full")

    # After every row is upserted and the vanished ones are closed: the last step of the transaction.
    monkeypatch.setattr(repository, "record_import", fail)
    result = CliRunner().invoke(app, ["locations", "import", str(KECO), "--format", "keco"])
    assert isinstance(result.exception, RuntimeError)
    assert snapshot(configured) == []
