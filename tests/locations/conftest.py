"""Fixtures of the locations tests: the reference data sets and a database handle per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ecoeco.db.engine import Database
from ecoeco.settings import Settings

# Real public data, read in place (never copied into the product): ../shared/reference/… from the repo.
REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "eco2-upstream" / "locations"
KECO = REFERENCE / "keco_recycle_compensation_sites.csv"
ZERO_WASTE = REFERENCE / "zerowaste_shops.csv"
# How the zero-waste export names our fields (a map app's "favourites" export).
ZERO_WASTE_COLUMNS = {"id": "key", "name": "display1", "address": "display2"}


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_dsn)
    yield database
    await database.dispose()
