"""scripts/auto-rebuild.sh: argument handling and the dry run (the real run needs AWS)."""

from __future__ import annotations

import os
import subprocess

from tests.deploy.conftest import ROOT

SCRIPT = ROOT / "scripts" / "auto-rebuild.sh"


def run(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )


def test_dry_run_prints_the_whole_sequence_in_order_and_changes_nothing() -> None:
    result = run("--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    steps = [
        "terraform -chdir=",
        "destroy -input=false -auto-approve",
        "apply -input=false -auto-approve",
        "output -raw ansible_inventory",
        "wait_for_connection",
        "ansible-playbook",
        "ecoeco verify",
    ]
    positions = [out.index(s) for s in steps]
    assert positions == sorted(positions)


def test_skip_destroy() -> None:
    result = run("--dry-run", "--skip-destroy")
    assert result.returncode == 0
    assert "destroy" not in result.stdout


def test_unknown_argument_fails_with_usage() -> None:
    result = run("--frobnicate")
    assert result.returncode == 2
    assert "unknown argument: --frobnicate" in result.stderr
    assert "Usage:" in result.stderr


def test_help() -> None:
    result = run("--help")
    assert result.returncode == 0 and "--dry-run" in result.stdout


def test_missing_tools_fail_fast_before_anything_runs() -> None:
    result = run("--yes", path="/nonexistent")
    assert result.returncode == 2
    assert "missing tools: terraform ansible-playbook" in result.stderr


def test_refuses_to_destroy_without_yes_when_not_interactive() -> None:
    fake_bin = ROOT / "deploy" / "tools" / ".venv" / "bin"
    path = f"{fake_bin}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"
    result = run(path=path)
    assert result.returncode == 2
    # Either a precondition or the missing --yes stops it; nothing was destroyed.
    assert "auto-rebuild:" in result.stderr and "terraform -chdir" not in result.stdout
