"""``ecoeco locations import`` against the configured database of each backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecoeco.cli import app
from ecoeco.settings import Settings, get_settings
from tests.locations.conftest import KECO, ZERO_WASTE


@pytest.fixture
def configured(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the CLI's settings (read from the environment) at this test's database."""
    monkeypatch.setenv("ECOECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ECOECO_LOG_JSON", "false")
    if settings.database_url:
        monkeypatch.setenv("ECOECO_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["locations", "import", *args])
    return result.exit_code, result.output


def test_import_both_reference_files_twice(configured: Settings) -> None:
    code, out = run(str(KECO), "--format", "keco", "--json")
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["rows"], summary["inserted"], summary["updated"], len(summary["rejected"])) == (
        409,
        395,
        0,
        14,
    )
    code, out = run(str(KECO), "--format", "keco", "--json")
    assert json.loads(out.strip().splitlines()[-1])["updated"] == 395

    columns = ["--column", "id=key", "--column", "name=display1", "--column", "address=display2"]
    code, out = run(str(ZERO_WASTE), "--format", "simple-csv", "--kind", "zero_waste_shop", *columns)
    assert code == 0, out
    assert "351 rows, 201 ok (201 new, 0 updated), 150 rejected" in " ".join(out.split())
    assert "missing-coordinates" in out


def test_unreadable_file_exits_2_with_the_reason(configured: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"name,lat,lon\n\xff\xfe,37.5,127\n")
    code, out = run(str(broken), "--format", "simple-csv")
    assert code == 2
    assert "line 2" in out
    code, out = run(str(ZERO_WASTE), "--format", "keco")
    assert (code, "positnSn" in out) == (2, True)
    code, out = run(str(ZERO_WASTE), "--format", "simple-csv", "--column", "colour=display1")
    assert code == 2
    assert "FIELD=HEADER" in " ".join(out.split())
