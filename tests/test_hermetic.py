"""The audit hook of tests/support/hermetic.py refuses reads beside the repository, and only those."""

from __future__ import annotations

import os

import pytest

from tests.support import hermetic


def test_a_sibling_of_the_repository_is_refused_before_it_is_touched() -> None:
    # Nothing needs to exist there: the hook refuses the path itself.
    sibling = hermetic.REPO.parent / "shared" / "reference" / "data.csv"
    with pytest.raises(hermetic.OutsideRepositoryError, match="outside the repository"):
        sibling.read_bytes()
    with pytest.raises(hermetic.OutsideRepositoryError):
        os.listdir(hermetic.REPO / ".." / "shared")
    assert hermetic.take_violations() == [str(sibling), str(hermetic.REPO / ".." / "shared")]


def test_the_repository_and_the_rest_of_the_machine_stay_readable(tmp_path) -> None:
    assert (hermetic.REPO / "pyproject.toml").read_bytes()
    (tmp_path / "x").write_text("ok")
    assert os.listdir(tmp_path) == ["x"]
    assert not hermetic.outside_repository(str(hermetic.REPO / "src" / ".." / "tests"))
    # Hidden entries of the parent are a home directory's tool caches, not neighbouring projects.
    assert not hermetic.outside_repository(str(hermetic.REPO.parent / ".cache" / "uv"))
    assert hermetic.outside_repository(str(hermetic.REPO.parent / "other-checkout"))
    assert hermetic.take_violations() == []
