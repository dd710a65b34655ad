from __future__ import annotations

import pytest
from fastapi import FastAPI

from ecoeco.runtime import Backends
from tests.queue import sample_tasks


@pytest.fixture
async def backends(app: FastAPI) -> Backends:
    """The app's backends, with the table the sample tasks write their effects to."""
    b: Backends = app.state.backends
    await sample_tasks.create_effects_table(b.db)
    return b
