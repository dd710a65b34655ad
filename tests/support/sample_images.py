"""Test images: real photos that ship inside scikit-image, and synthetic pictures of nothing."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from skimage import data

# Photos of things that are not waste we could judge (animals, people, space, textures, microscopy).
OFF_TAXONOMY_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "checkerboard",
    "chelsea",
    "clock",
    "coins",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "retina",
    "rocket",
    "text",
)


def photo(name: str) -> Image.Image:
    pixels = np.asarray(getattr(data, name)())
    return Image.fromarray(pixels).convert("RGB")


def encode(im: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def synthetic(kind: str, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Pictures with no object in them: the classifier must not find waste there."""
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    grey: np.ndarray[Any, Any]
    match kind:
        case "noise":
            return Image.fromarray(np.random.default_rng(7).integers(0, 256, (h, w, 3), dtype=np.uint8))
        case "gradient":
            grey = xx * 255 // (w - 1)
        case "stripes":
            grey = (xx // 20) % 2 * 255
        case "checker":
            grey = ((xx // 40) + (yy // 40)) % 2 * 255
        case "black" | "white" | "grey" | "red":
            return Image.new("RGB", size, kind)
        case _:
            raise ValueError(kind)
    return Image.fromarray(grey.astype(np.uint8)).convert("RGB")


SYNTHETIC_KINDS = ("noise", "gradient", "stripes", "checker", "black", "white", "grey", "red")
