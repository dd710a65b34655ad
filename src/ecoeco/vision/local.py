"""The embedded vision backend: EfficientNet-Lite0 (ImageNet-1k) under onnxruntime, in this process.

ImageNet knows ~1000 everyday classes, not our bins, so ``imagenet_map.yaml`` maps the classes that name
disposable things to our taxonomy. The softmax probability of all classes mapped to the same category is
added up (a bottle seen as 40 % "water bottle" and 30 % "pop bottle" is 70 % clear PET); the best category
wins when that mass reaches the threshold, otherwise the answer is an honest "not sure, please describe it".

Threshold calibration (``CONFIDENCE_THRESHOLD``) on the photos we have (``skimage.data``) and synthetic
images, each run through the intake first; the number is the mass of the best category:

* photos of nothing we can judge, and synthetic images, must stay below it. The highest: a smooth grey
  gradient 0.21 (electronics: ~50 appliance classes soak up diffuse probability), ``retina`` 0.20
  (general: "mask"), ``checkerboard`` 0.17 (paper: "crossword"), ``cell`` 0.12, ``clock`` 0.11;
  animals, people, landscapes ≤ 0.04;
* photos of something disposable should reach it: ``coffee`` (a cup of coffee on a saucer) 0.97
  (non-combustible: "espresso" 0.95). ``page`` (a printed page) reaches only 0.13 for paper, inside the
  negatives' range, so no threshold could accept it without also accepting noise; it stays "not sure".

0.4 keeps about twice the worst negative's mass as margin and is far below what a clear photo of a mapped
object gets. With one clear positive this is a sanity bound, not a statistical calibration:
``tests/vision/test_local.py`` re-measures both groups, so a change of model, preprocessing or mapping that
breaks the separation fails the build. Recalibrate with real scan feedback once the app collects some.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import yaml
from PIL import Image

from ecoeco.vision import efficientnet
from ecoeco.vision.base import (
    Classification,
    Taxonomy,
    UnsureReason,
    VisionClassifier,
    unsure,
)
from ecoeco.vision.images import ImageLimits, PreparedImage
from ecoeco.vision.intake import release_memory

MODEL_NAME: Final = "efficientnet-lite0-imagenet1k"
CONFIDENCE_THRESHOLD: Final = 0.4
# EfficientNet-Lite was trained on pixels scaled to [-1, 1): (x - 127) / 128.
_PIXEL_MEAN: Final = 127.0
_PIXEL_STD: Final = 128.0
_CROP_FRACTION: Final = 0.875  # centre crop as in the usual ImageNet evaluation
MAP_FILE: Final = "imagenet_map.yaml"

Probabilities = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MappedClass:
    """An ImageNet class as one of our categories: a middle (its major comes from the taxonomy) or a major."""

    imagenet: str
    major: str | None
    middle: str | None
    item: str
    tags: tuple[str, ...] = ()


class LabelMapError(ValueError):
    """The ImageNet mapping file is malformed (its ids are checked against the taxonomy in use)."""


def parse_label_map(text: str) -> dict[int, MappedClass]:
    doc = yaml.safe_load(text)
    mapped: dict[int, MappedClass] = {}
    for index, entry in doc["classes"].items():
        if not (isinstance(index, int) and 0 <= index < efficientnet.NUM_CLASSES):
            raise LabelMapError(f"{index!r} is not an ImageNet-1k class index")
        if ("middle" in entry) == ("major" in entry):
            raise LabelMapError(f"class {index}: give exactly one of `middle` or `major`")
        mapped[index] = MappedClass(
            imagenet=str(entry["imagenet"]),
            major=entry.get("major"),
            middle=entry.get("middle"),
            item=str(entry["item"]),
            tags=tuple(entry.get("tags", ())),
        )
    return mapped


def load_label_map() -> dict[int, MappedClass]:
    return parse_label_map(resources.files(__package__).joinpath(MAP_FILE).read_text(encoding="utf-8"))


def decide(
    probs: Probabilities,
    label_map: Mapping[int, MappedClass],
    taxonomy: Taxonomy,
    *,
    threshold: float,
    latency_ms: float,
) -> Classification:
    """Aggregate class probabilities per category of the taxonomy and answer, or say "not sure"."""
    mass: defaultdict[tuple[str, str | None], float] = defaultdict(float)
    best: dict[tuple[str, str | None], int] = {}
    for index, entry in label_map.items():
        key = taxonomy.label(entry.major, entry.middle)
        if key is None:  # not a category of this taxonomy
            continue
        mass[key] += float(probs[index])
        if key not in best or probs[index] > probs[best[key]]:
            best[key] = index
    top_class = int(np.argmax(probs))
    if not mass:
        return unsure(UnsureReason.NOT_RECOGNISED, model=MODEL_NAME, latency_ms=latency_ms)
    key = max(mass, key=mass.__getitem__)
    confidence = round(mass[key], 4)
    if confidence < threshold:
        reason = UnsureReason.LOW_CONFIDENCE if top_class in best.values() else UnsureReason.NOT_RECOGNISED
        return unsure(reason, model=MODEL_NAME, latency_ms=latency_ms, confidence=confidence)
    entry = label_map[best[key]]
    return Classification(
        major=key[0],
        middle=key[1],
        item_hint=entry.item,
        tags=[t for t in entry.tags if t in taxonomy.tags],
        confidence=confidence,
        unsure=False,
        model=MODEL_NAME,
        latency_ms=latency_ms,
    )


def to_input(jpeg: bytes) -> npt.NDArray[np.float32]:
    """A prepared image as the network's 1x3x224x224 input: centre crop, bicubic resize, scale to [-1, 1)."""
    size = efficientnet.INPUT_SIZE
    with Image.open(io.BytesIO(jpeg)) as im:
        im.draft("RGB", (size, size))
        rgb = im.convert("RGB")
    w, h = rgb.size
    side = min(w, h) * _CROP_FRACTION
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    pixels = np.asarray(rgb.resize((size, size), Image.Resampling.BICUBIC, box=box), dtype=np.float32)
    scaled: npt.NDArray[np.float32] = (pixels - _PIXEL_MEAN) / _PIXEL_STD
    return scaled.transpose(2, 0, 1)[None]


def softmax(logits: npt.NDArray[np.float32]) -> Probabilities:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs: Probabilities = (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)
    return probs


class _SharedModel:
    """One onnxruntime session per process, built on first use. ``run`` is thread-safe in onnxruntime."""

    _lock = threading.Lock()
    _sessions: dict[int, ort.InferenceSession] = {}  # noqa: RUF012 - process-wide by design

    @classmethod
    def session(cls, threads: int) -> ort.InferenceSession:
        with cls._lock:
            if threads not in cls._sessions:
                cls._sessions[threads] = cls._load(threads)
            return cls._sessions[threads]

    @staticmethod
    def _load(threads: int) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No arena: it kept the warm-up's peak for the life of the process (idle RSS 253 -> 241 MB), and
        # allocating per run measured no slower (predict p50 12-14 ms on 1280-px photos either way).
        options.enable_cpu_mem_arena = False
        session = ort.InferenceSession(
            efficientnet.build_from_package(), options, providers=["CPUExecutionProvider"]
        )
        # Warm-up: the first run allocates arenas and picks kernels; keep that off a user's request.
        blank = np.zeros((1, 3, efficientnet.INPUT_SIZE, efficientnet.INPUT_SIZE), np.float32)
        session.run(None, {"image": blank})
        # Building the graph passed about 120 MB through the allocator (weights in float64 to fold the batch
        # norms, protobuf copies, the serialized model), which glibc would keep: idle RSS 305 → 220 MB.
        release_memory()
        return session


class LocalClassifier(VisionClassifier):
    backend = "local"

    def __init__(
        self, limits: ImageLimits, *, threads: int = 2, threshold: float = CONFIDENCE_THRESHOLD
    ) -> None:
        super().__init__(limits)
        self.threads = threads
        self.threshold = threshold
        self.label_map = load_label_map()

    def predict(self, jpeg: bytes) -> Probabilities:
        """Class probabilities for one prepared image (blocking: run it in a thread)."""
        logits: npt.NDArray[np.float32] = _SharedModel.session(self.threads).run(
            None, {"image": to_input(jpeg)}
        )[0]
        probs: Probabilities = softmax(logits)[0]
        return probs

    async def warm_up(self) -> None:
        await asyncio.to_thread(_SharedModel.session, self.threads)

    async def aclose(self) -> None:
        """Nothing to release: the session is shared by the whole process and lives as long as it."""

    async def classify(
        self, image: PreparedImage | bytes, *, question: str | None, taxonomy: Taxonomy
    ) -> Classification:
        # `question` is not used: an image model cannot read it; the pipeline searches the knowledge base
        # with the text instead.
        prepared = await self._prepared(image)
        started = time.perf_counter()
        probs = await asyncio.to_thread(self.predict, prepared.data)
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        return decide(probs, self.label_map, taxonomy, threshold=self.threshold, latency_ms=latency_ms)
