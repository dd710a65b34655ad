"""`ecoeco up` warms the local model during start-up."""

from __future__ import annotations

from pathlib import Path

from asgi_lifespan import LifespanManager

from ecoeco.app import create_app
from ecoeco.embedded import warm_classifier
from ecoeco.settings import Settings
from ecoeco.vision.local import LocalClassifier, _SharedModel


async def test_start_up_loads_the_model_before_the_first_request(tmp_path: Path) -> None:
    threads = 4  # a count no other test uses: its session can only come from this start-up
    assert threads not in _SharedModel._sessions
    app = create_app(
        Settings(data_dir=tmp_path, env="test", vision_threads=threads), hooks=(warm_classifier,)
    )

    async with LifespanManager(app):
        assert threads in _SharedModel._sessions
        classifier = app.state.backends.classifier
        assert isinstance(classifier, LocalClassifier)
        assert classifier.threads == threads
