"""The suite is hermetic: no test reads or lists anything beside the repository.

A clean clone in an empty folder must pass ``make test``, so a test that reaches ``../shared/…`` or a
sibling checkout is a bug even on a machine where that path happens to exist. An audit hook (PEP 578) sees
every ``open()``, ``os.listdir()`` and ``os.scandir()`` of the test process and refuses such a path before
the file system is touched; the test that asked fails even if it swallowed the error. Hidden entries of the
parent (``~/.cache``, ``~/.aws`` when the repository sits in a home directory) and the interpreter's own
tree are not the repository's business and stay allowed. Subprocesses are outside the hook's reach:
``.ci/run`` runs the whole suite from a fresh clone in an empty folder for that.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
_BESIDE = REPO.parent
# The interpreter and the temporary folder may sit beside the repository; a folder that holds the
# repository itself (a clone in /tmp) allows nothing, or everything beside the clone would pass.
_ALLOWED = tuple(
    a
    for a in {
        os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir())
    }
    if not REPO.is_relative_to(a)
)
_EVENTS = {"open", "os.listdir", "os.scandir"}

violations: list[str] = []


class OutsideRepositoryError(RuntimeError):
    """Not an OSError on purpose: code that handles a missing file must not swallow this."""


def outside_repository(path: str) -> bool:
    """Is ``path`` beside the repository (in its parent folder but not in the repository)?"""
    if Path(_BESIDE.anchor) == _BESIDE:
        return False  # a repository at the root has no neighbours to tell apart from the system
    resolved = os.path.realpath(path)
    if any(resolved == a or resolved.startswith(a + os.sep) for a in _ALLOWED):
        return False
    try:
        first = Path(resolved).relative_to(_BESIDE).parts[:1]
    except ValueError:
        return False
    return bool(first) and first[0] != REPO.name and not first[0].startswith(".")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS or not args or args[0] is None or isinstance(args[0], int):
        return
    path = os.fsdecode(args[0])
    if outside_repository(path):
        violations.append(path)
        raise OutsideRepositoryError(f"{path}: the tests must not read outside the repository ({REPO})")


def take_violations() -> list[str]:
    """The refused paths so far, forgetting them (for the test that proves the hook works)."""
    taken = violations[:]
    violations.clear()
    return taken


sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if violations:
        report.outcome = "failed"
        report.longrepr = "read outside the repository: " + ", ".join(take_violations())
    return report
