"""Choosing the backend by settings, and one classifier per process' backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from ecoeco.runtime import Backends
from ecoeco.settings import Settings
from ecoeco.vision import create_classifier
from ecoeco.vision.local import LocalClassifier
from ecoeco.vision.openai_api import OpenAIClassifier


def test_local_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ECOECO_VISION_BACKEND", raising=False)
    classifier = create_classifier(Settings(vision_threads=1, image_max_pixels=1234))
    assert isinstance(classifier, LocalClassifier)
    assert classifier.threads == 1
    assert classifier.limits.max_pixels == 1234


async def test_openai_is_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOECO_VISION_BACKEND", "openai")
    monkeypatch.setenv("ECOECO_VISION_API_KEY", "sk-from-env")
    monkeypatch.setenv("ECOECO_VISION_MODEL", "gpt-4o")
    settings = Settings()

    classifier = create_classifier(settings)

    assert isinstance(classifier, OpenAIClassifier)
    assert classifier.model == "gpt-4o"
    assert "sk-from-env" not in repr(settings)
    await classifier.aclose()


def test_openai_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="ECOECO_VISION_API_KEY"):
        create_classifier(Settings(vision_backend="openai"))


def test_unknown_backend_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="vision_backend"):
        Settings(vision_backend="clip")


async def test_backends_keep_one_classifier(tmp_path: Path) -> None:
    backends = Backends.from_settings(
        Settings(data_dir=tmp_path, vision_backend="openai", vision_api_key=SecretStr("sk-x"))
    )
    try:
        assert backends.classifier is backends.classifier
    finally:
        await backends.aclose()
