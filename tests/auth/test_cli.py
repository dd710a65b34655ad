from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecoeco.cli import app
from ecoeco.settings import get_settings


def test_rotate_key_adds_a_signing_key_and_prunes_old_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOECO_AUTH_KEYS_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        kids = []
        for _ in range(3):
            result = runner.invoke(app, ["auth", "rotate-key", "--keep", "2"])
            assert result.exit_code == 0, result.output
            kids.append(result.output.split()[2])
        published = json.loads(runner.invoke(app, ["auth", "jwks"]).output)
    finally:
        get_settings.cache_clear()
    assert len(set(kids)) == 3
    assert [k["kid"] for k in published["keys"]] == [kids[2], kids[1]]
    assert len(list(tmp_path.glob("*.pem"))) == 2
