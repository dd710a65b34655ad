"""``ecoeco up``: build and warm the classifier at start-up, so the first scan does not wait for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from ecoeco.vision import get_classifier


async def lifespan_hook(app: FastAPI) -> Callable[[], Awaitable[None]]:
    await get_classifier(app.state.backends).warm_up()

    async def keep_open() -> None:
        # Hooks stop in reverse order, so the embedded queue (started earlier) may still be finishing a
        # scan when this runs: the classifier stays usable and goes away with the process.
        return None

    return keep_open
