"""`ecoeco up` warms the local model during start-up."""

from __future__ import annotations

from pathlib import Path

from asgi_lifespan import LifespanManager

from ecoeco.app import create_app
from ecoeco.embedded import warm_classifier
from ecoeco.settings import Settings
from ecoeco.vision.local import LocalClassifier, _SharedModel
from tests.support.waiting import eventually


async def test_start_up_loads_the_model_without_waiting_for_a_request(tmp_path: Path) -> None:
    threads = 4  # a count no other test uses: its session can only come from this start-up
    assert threads not in _SharedModel._sessions
    app = create_app(
        Settings(data_dir=tmp_path, env="test", vision_threads=threads), hooks=(warm_classifier,)
    )

    async with LifespanManager(app):
        # Loaded in the background from start-up on (the API answers meanwhile); no request asks for it.
        async def loaded() -> bool:
            return threads in _SharedModel._sessions

        assert await eventually(loaded, within_s=60, what="the model loaded after start-up")
        classifier = app.state.backends.classifier
        assert isinstance(classifier, LocalClassifier)
        assert classifier.threads == threads
