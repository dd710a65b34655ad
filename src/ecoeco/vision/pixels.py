"""The pixel work of image intake (:mod:`ecoeco.vision.images` has the order of the checks and the memory
bounds): decoding, resizing, re-encoding, thumbnails and the perceptual hash. numpy and Pillow are imported
here only, on the first image a process handles.

The pHash is our own: a 32x32 greyscale thumbnail, its 2-D DCT (two products with a fixed 32x32 cosine
matrix), and the signs of the 8x8 lowest frequencies against their median. That is ten lines of numpy
instead of the ``imagehash`` package and the SciPy and PyWavelets it would pull into the image.
"""

from __future__ import annotations

import hashlib
import io
from functools import cache

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageOps

from ecoeco.core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from ecoeco.vision.intake import (
    _DECODERS,
    _LOSSLESS,
    DECODE_BUDGET,
    DEFAULT_MAX_EDGE,
    JPEG_QUALITY,
    LOSSLESS_MAX_PIXELS,
    OUTPUT_TYPE,
    SUPPORTED_TYPES,
    THUMBNAIL_EDGE,
    PreparedImage,
    check_declaration,
    release_memory,
    sniff_image_type,
)

pillow_heif.register_heif_opener()


def prepare_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    declared_type: str | None,
    max_edge: int = DEFAULT_MAX_EDGE,
) -> PreparedImage:
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The image is {len(data)} bytes; the limit is {max_bytes}.",
            code="image-too-large",
            max_bytes=max_bytes,
        )
    if not data:
        raise Unprocessable("The image is empty.", code="image-empty")
    check_declaration(declared_type)
    source_type = sniff_image_type(data)
    if source_type is None:
        raise UnsupportedMediaType(
            "The file is not a JPEG, PNG, WebP or HEIC image.",
            code="unsupported-image-type",
            supported=sorted(SUPPORTED_TYPES),
        )
    rgb = _decode(data, source_type, max_pixels=max_pixels, max_edge=max_edge)
    rgb.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)
    return PreparedImage(
        data=out.getvalue(),
        content_type=OUTPUT_TYPE,
        width=rgb.width,
        height=rgb.height,
        phash=perceptual_hash(rgb),
        sha256=hashlib.sha256(data).hexdigest(),
        source_type=source_type,
    )


def _decode(data: bytes, source_type: str, *, max_pixels: int, max_edge: int) -> Image.Image:
    """Decode fully (so truncation is caught) into a fresh RGB image, at most about ``max_edge`` on its
    longer side after reduction, that carries no metadata."""
    try:
        with Image.open(io.BytesIO(data), formats=[_DECODERS[source_type]]) as im:
            width, height = im.size
            if source_type in _LOSSLESS:
                max_pixels = min(max_pixels, LOSSLESS_MAX_PIXELS)
            if width < 1 or height < 1 or width * height > max_pixels:
                raise Unprocessable(
                    f"The image is {width}x{height} pixels; the limit is {max_pixels} pixels.",
                    code="image-too-many-pixels",
                    max_pixels=max_pixels,
                )
            # JPEG can decode at 1/2, 1/4 or 1/8 scale; never below what the resize needs.
            im.draft("RGB", (max_edge, max_edge))
            with DECODE_BUDGET.reserve(decode_cost(im)):
                im.load()
                small = _reduced(im, max_edge)
                del im  # the full-size pixels go before the copies below are made
                upright = ImageOps.exif_transpose(small)
                return _pixels_only(upright)
    except Image.DecompressionBombError as exc:
        raise Unprocessable(
            "The image has too many pixels.", code="image-too-many-pixels", max_pixels=max_pixels
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as exc:
        # Pillow reports truncated or corrupt data as one of these, pillow-heif as ValueError/RuntimeError.
        raise Unprocessable(
            "The image could not be decoded; it may be truncated or corrupt.", code="image-undecodable"
        ) from exc
    finally:
        release_memory()


# Modes Image.reduce() works on directly; others (palette, 16-bit) are converted first.
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "RGBa", "La", "I", "F", "CMYK"})


def _reduced(im: Image.Image, max_edge: int) -> Image.Image:
    """A box-filtered copy by an integer factor that keeps the longer side ≥ ``max_edge`` (the LANCZOS
    resize that follows makes the final size), or ``im`` itself when it is small enough already."""
    factor = max(im.size) // max_edge
    if factor < 2:
        return im
    if im.mode not in _REDUCIBLE:
        im = im.convert("RGBA" if im.mode in ("P", "PA") else "RGB")
    return im.reduce(factor)


def decode_cost(im: Image.Image) -> int:
    """Bytes a decode of ``im`` (after ``draft``) holds at its peak, as measured with Pillow 13: four per
    pixel (Pillow keeps RGB in four), eight with alpha (reducing premultiplies into a second full copy),
    nine for a palette image (itself, then converted)."""
    pixels = im.size[0] * im.size[1]
    if im.mode in ("P", "PA"):
        return pixels * 9
    return pixels * (8 if "A" in im.mode or "a" in im.mode else 4)


def _pixels_only(im: Image.Image) -> Image.Image:
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        # Transparent areas become white (as the app shows them), not black.
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", im.size, "white")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    rgb = im.convert("RGB")
    rgb.info.clear()  # convert() copies metadata (EXIF, XMP, ICC …); the output must not carry it
    return rgb


def thumbnail(data: bytes, edge: int = THUMBNAIL_EDGE) -> bytes:
    """A small JPEG of a stored scan image (already one of ours: metadata-free, at most 1280 pixels)."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
        im.draft("RGB", (edge, edge))  # decode at 1/2, 1/4 or 1/8 scale when that is enough
        small = im.convert("RGB")
    small.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()


@cache
def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    matrix: npt.NDArray[np.float64] = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix


def perceptual_hash(im: Image.Image) -> str:
    """64-bit DCT hash: robust to re-encoding and resizing, different for different pictures."""
    grey = np.asarray(im.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = _dct_matrix(32)
    low = (dct @ grey @ dct.T)[:8, :8].ravel()
    bits = np.packbits(low > np.median(low))
    return bits.tobytes().hex()
