"""Fixtures of the locations tests: the bundled data sets and a database handle per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ecoeco.db.engine import Database
from ecoeco.locations import bundled
from ecoeco.settings import Settings, get_settings

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


@pytest.fixture
def configured(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the CLI's settings (read from the environment) at this test's database."""
    monkeypatch.setenv("ECOECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ECOECO_LOG_JSON", "false")
    if settings.database_url:
        monkeypatch.setenv("ECOECO_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()
