"""The character catalogue's validation, and the reward rules that need no scan to check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import uuid
from pathlib import Path

import pytest

from ecoeco.rewards.catalog import DATA_DIR, CatalogError, get_catalog, load_catalog
from ecoeco.rewards.granting import refusal
from ecoeco.waste.service.outcome import FinishedScan


def test_the_shipped_catalogue_is_valid() -> None:
    catalog = load_catalog()
    assert catalog.mascot.id == "eco"
    assert len(catalog.by_category) == 12


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copytree(DATA_DIR, tmp_path / "data")
    path = tmp_path / "data" / "characters.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("category: paper\n", "category: food\n", "'food' is not a recyclable kind"),
        ("name_ko: 페티", "name_ko: 페트", "is not in the upstream catalogue"),
        ("category: metal\n", "category: paper\n", "'metal' has 0 characters"),
        ("en: Take my cap off and empty me out.", "en: 뚜껑", "lines.0.en"),
        ("mascot: true\n", "mascot: false\n", "exactly one mascot"),
    ],
)
def test_broken_data_fails_with_every_problem_named(tmp_path: Path, old: str, new: str, problem: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(_broken(tmp_path, old, new))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def _scan(**changes: object) -> FinishedScan:
    scan = FinishedScan(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        created_at=dt.datetime.now(dt.UTC),
        lang="ko",
        has_photo=True,
        from_cache=False,
        from_words=False,
        unsure=False,
        major="recyclable",
        middle="clear_pet",
        todo=(),
        judged_correct=None,
        announced=None,
    )
    return dataclasses.replace(scan, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"judged_correct": True}, None),
        ({"judged_correct": False}, "marked-wrong"),  # "wrong" arrived before the grant job ran
        ({"has_photo": False, "from_words": True}, "question-only"),
        ({"from_cache": True}, "confirmed-cache"),
        ({"major": "general", "middle": "non_recyclable_plastic"}, "not-recyclable"),
        ({"todo": ("label_attached",)}, "preparation-left"),
        ({"unsure": True, "middle": None}, "unsure"),
    ],
)
def test_refusals(changes: dict[str, object], reason: str | None) -> None:
    assert refusal(_scan(**changes), get_catalog()) == reason
