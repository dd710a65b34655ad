"""The loader accepts the shipped data and rejects broken data with a message that says what and where."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecoeco.recycling.knowledge import KnowledgeBase, get_knowledge_base, load_knowledge_base
from ecoeco.recycling.loader import (
    KnowledgeBaseError,
)
from tests.recycling.support import EditYaml, record


def test_shipped_data_is_valid_and_cached(kb: KnowledgeBase) -> None:
    assert get_knowledge_base() is kb
    assert kb.version.startswith("2026.1.")


def test_version_follows_the_content(data_copy: Path, edit_yaml: EditYaml, kb: KnowledgeBase) -> None:
    assert load_knowledge_base(data_copy).version == kb.version
    edit_yaml(
        "items/paper.yaml", lambda doc: record(doc, "items", "newspaper")["synonyms"].append("신문 뭉치")
    )
    assert load_knowledge_base(data_copy).version != kb.version


def _problems(data_dir: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_dir)
    assert str(err.value).startswith(f"{len(err.value.problems)} problem(s)")
    return err.value.problems


def _set(kind: str, record_id: str, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        record(doc, kind, record_id)[field] = value

    return change


def _drop(kind: str, record_id: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc[kind].remove(record(doc, kind, record_id))

    return change


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        pytest.param(
            "items/paper.yaml",
            _set("items", "milk_carton", "middle", "nowhere"),
            "items/paper.yaml: item 'milk_carton': middle 'nowhere' does not exist",
            id="dangling-middle",
        ),
        pytest.param(
            "items/paper.yaml",
            _set("items", "newspaper", "id", "book"),
            "items/paper.yaml: duplicate id 'book' (first defined in items/paper.yaml)",
            id="duplicate-id",
        ),
        pytest.param(
            "items/paper.yaml",
            lambda doc: record(doc, "items", "newspaper").pop("name_en"),
            "items/paper.yaml: item 'newspaper': name_en: Field required",
            id="missing-english-name",
        ),
        pytest.param(
            "items/paper.yaml",
            _set("items", "newspaper", "name_ko", "Newspaper"),
            "item 'newspaper': name_ko 'Newspaper' must end in a Korean syllable",
            id="english-in-korean-name",
        ),
        pytest.param(
            "items/paper.yaml",
            _set("items", "newspaper", "name_en", "신문지"),
            "item 'newspaper': name_en '신문지' must be English",
            id="korean-in-english-name",
        ),
        pytest.param(
            "items/paper.yaml",
            _set("items", "newspaper", "synonym", ["신문"]),
            "item 'newspaper': synonym: Extra inputs are not permitted",
            id="misspelt-field",
        ),
        pytest.param(
            "categories.yaml",
            lambda doc: record(doc, "middles", "paper")["not_accepted"][0].update(to="paper_packk"),
            "middle 'paper': not_accepted '우유팩 같은 종이팩' goes to 'paper_packk', which does not exist",
            id="dangling-not-accepted",
        ),
        pytest.param(
            "categories.yaml",
            lambda doc: record(doc, "middles", "paper")["not_accepted"][0].update(to="newspaper"),
            "not_accepted '우유팩 같은 종이팩' points back into 'newspaper' itself",
            id="not-accepted-points-home",
        ),
        pytest.param(
            "categories.yaml",
            _set("majors", "recyclable", "id", "recyclables"),
            "the major category 'recyclable' is missing",
            id="recyclable-major-renamed",
        ),
        pytest.param(
            "categories.yaml",
            _set("middles", "paper", "situations", ["wet", "no_such_tag"]),
            "middle 'paper': situation 'no_such_tag' is not a tag",
            id="unknown-situation",
        ),
        pytest.param(
            "categories.yaml",
            _set("middles", "paper", "situations", ["wet", "gas_left"]),
            "middle 'paper': situation 'gas_left' lists a tag whose applies_to excludes it",
            id="situation-outside-applies-to",
        ),
        pytest.param(
            "tags.yaml",
            _set("tags", "broken", "redirect", {"glass_bottle": "non_combustible"}),
            "redirect 'glass_bottle' → 'non_combustible': not an item or middle category",
            id="redirect-to-major",
        ),
        pytest.param(
            "tags.yaml",
            _set("tags", "broken", "redirect", {"glass_bottle": "soju_bottle"}),
            "redirect 'glass_bottle' → 'soju_bottle' stays where it started",
            id="redirect-to-itself",
        ),
        pytest.param(
            "tags.yaml",
            lambda doc: record(doc, "tags", "wet")["prep"].update(ko="Let it dry."),
            "tag 'wet': prep.ko: Value error, the ko text has no Korean in it",
            id="untranslated-text",
        ),
    ],
)
def test_broken_data_is_refused_with_a_clear_message(
    data_copy: Path, edit_yaml: EditYaml, name: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    edit_yaml(name, change)
    problems = _problems(data_copy)
    assert any(expected in p for p in problems), problems


def test_unused_tag_is_reported(data_copy: Path, edit_yaml: EditYaml) -> None:
    # Only the clothing category lists dirty_textile (pair_or_set stays in use by shoes and socks).
    kept = ["wet", "mold_or_odor", "torn_or_worn", "pair_or_set"]
    edit_yaml("categories.yaml", _set("middles", "clothing", "situations", kept))
    assert _problems(data_copy) == [
        "tags.yaml: tag 'dirty_textile': no item or category lists it in `situations` (unused tag)"
    ]


def test_middle_without_items_is_unreachable(data_copy: Path, edit_yaml: EditYaml) -> None:
    def remove_radon(doc: dict[str, Any]) -> None:
        doc["items"] = [i for i in doc["items"] if i["middle"] != "radioactive"]

    edit_yaml("items/other_streams.yaml", remove_radon)
    assert _problems(data_copy) == ["categories.yaml: middle 'radioactive' has no items"]


def test_every_problem_is_reported_at_once(data_copy: Path, edit_yaml: EditYaml) -> None:
    edit_yaml("items/paper.yaml", _set("items", "milk_carton", "middle", "nowhere"))
    edit_yaml("items/general.yaml", _set("items", "receipt", "middle", "elsewhere"))
    problems = _problems(data_copy)
    assert len(problems) == 2
    assert "items/general.yaml: item 'receipt': middle 'elsewhere' does not exist" in problems


def test_invalid_yaml_names_the_file(data_copy: Path) -> None:
    (data_copy / "tags.yaml").write_text("tags: [unclosed\n", encoding="utf-8")
    [problem] = _problems(data_copy)
    assert problem.startswith("tags.yaml: not valid YAML")


def test_unknown_top_level_key_is_refused(data_copy: Path) -> None:
    path = data_copy / "items" / "paper.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("items:", "itmes:", 1), encoding="utf-8")
    problems = _problems(data_copy)
    assert "items/paper.yaml: unknown top-level key 'itmes' (expected items)" in problems
