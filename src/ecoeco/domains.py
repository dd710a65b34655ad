"""The list of business domains. Each is a package with the same inner shape:

``endpoints.py`` (a FastAPI ``router``), ``service.py``, ``repository.py`` (the only place with SQL),
``schemas.py`` (API models), and where needed ``models.py`` (tables), ``tasks.py`` (queue work),
``cli.py`` (a Typer ``app`` mounted as ``ecoeco <domain> …``) and ``bundled.py`` (data that ships with the
product: ``async def load(db)``, run by ``ecoeco up`` and ``ecoeco migrate --bundled-data``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ecoeco.queue.registry import REGISTRY, Task
from ecoeco.settings import Settings

DOMAINS: tuple[str, ...] = ("auth", "users", "waste", "recycling", "locations", "rewards", "insights")
# Infrastructure packages that own tables of their own.
INFRA: tuple[str, ...] = ("queue",)


def domain_modules(leaf: str, *, include_infra: bool = False) -> list[ModuleType]:
    """Import ``ecoeco.<pkg>.<leaf>`` for every package that has one."""
    packages = DOMAINS + (INFRA if include_infra else ())
    found = []
    for pkg in packages:
        try:
            found.append(importlib.import_module(f"ecoeco.{pkg}.{leaf}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"ecoeco.{pkg}.{leaf}":
                raise
    return found


def import_all_models() -> None:
    """Register every table on the shared metadata (Alembic and tests need the full picture)."""
    domain_modules("models", include_infra=True)


def load_tasks(settings: Settings) -> dict[str, Task]:
    """Import every module that defines tasks: domains' ``tasks.py``, the queue's jobs, and extras."""
    # Every table too: a foreign-key column takes its type from the table it points at, so a worker that
    # never imported ``users`` would read ``waste_scans.user_id`` untyped (a str on SQLite).
    import_all_models()
    domain_modules("tasks")
    importlib.import_module("ecoeco.queue.jobs")
    for module in settings.queue_task_modules.split(","):
        if module.strip():
            importlib.import_module(module.strip())
    return REGISTRY
