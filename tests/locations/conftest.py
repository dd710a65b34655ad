"""Fixtures of the locations tests: the bundled data sets and a database handle per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ecoeco.db.engine import Database
from ecoeco.locations import bundled
from ecoeco.settings import Settings

# The public data files that ship with the product (src/ecoeco/locations/data, see SOURCES.md there).
KECO = bundled.DATA_DIR / "keco_recycle_compensation_sites.csv"
ZERO_WASTE = bundled.DATA_DIR / "zerowaste_shops.csv"
# How the zero-waste export names our fields (a map app's "favourites" export).
ZERO_WASTE_COLUMNS = dict(bundled.BUNDLED[1].columns)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_dsn)
    yield database
    await database.dispose()
