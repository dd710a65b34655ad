from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecoeco.recycling.knowledge import KnowledgeBase, get_knowledge_base
from ecoeco.recycling.loader import DATA_DIR
from tests.recycling.support import EditYaml


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return get_knowledge_base()


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped data files, to break or extend in one test."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.fixture
def edit_yaml(data_copy: Path) -> EditYaml:
    """Change one data file in place: ``edit_yaml("items/paper.yaml", lambda doc: ...)``."""

    def edit(name: str, change: Callable[[dict[str, Any]], object]) -> None:
        path = data_copy / name
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(document)
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")

    return edit
