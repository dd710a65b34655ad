"""Image intake: turn untrusted upload bytes into a small, clean JPEG we are willing to store and classify.

Order matters, cheapest and most dangerous checks first:

1. size in bytes (413) before anything else;
2. the type from the bytes' magic numbers (415) — a declared content type is only a hint, see below;
3. the pixel count from the header (422) *before* any pixel is decoded, so a small file that inflates to
   gigapixels (a decompression bomb) costs nothing;
4. a full decode restricted to the sniffed format (422 when truncated or corrupt);
5. EXIF orientation applied, then a fresh RGB image holding pixels only (EXIF, GPS, XMP, ICC, comments
   and whatever trails the image data — a polyglot's payload — are left behind), resized to a maximum edge
   and re-encoded as JPEG;
6. a 64-bit perceptual hash (pHash) of the result for near-duplicate lookup, and a SHA-256 of the original.

``prepare_image`` is CPU-bound: call it through ``asyncio.to_thread`` from async code.

Memory is bounded per request and per process. A small file can hold a big picture (a 143 kB PNG of zeros
is 49 MP, 147 MB as RGB), so: JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers the output
(``draft``); other formats are decoded once at full size and reduced at once, before any copy is made
(``reduce``, then orientation and colour conversion on the small image); and every decode first takes its
estimated bytes from a process-wide budget (:class:`DecodeBudget`, ``ECOECO_IMAGE_DECODE_BUDGET_MB``), so
eight such uploads at once queue for the budget instead of needing eight times the memory. Afterwards the
freed pages go back to the operating system (glibc keeps them in its per-thread arenas otherwise).

The pHash is our own: a 32x32 greyscale thumbnail, its 2-D DCT (two products with a fixed 32x32 cosine
matrix), and the signs of the 8x8 lowest frequencies against their median. That is ten lines of numpy
instead of the ``imagehash`` package and the SciPy and PyWavelets it would pull into the image.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pillow_heif
from PIL import Image, ImageOps

from ecoeco.core.errors import PayloadTooLarge, ServiceUnavailable, Unprocessable, UnsupportedMediaType
from ecoeco.settings import Settings

pillow_heif.register_heif_opener()

OUTPUT_TYPE: Final = "image/jpeg"
JPEG_QUALITY: Final = 85
DEFAULT_MAX_EDGE: Final = 1280
THUMBNAIL_EDGE: Final = 320  # a list row's picture at up to 4x its 80 CSS pixels

# PNG and WebP can only be decoded at full size; they are screenshots and graphics far more than camera
# photos (phones write JPEG or HEIC), and 16.7 MP (4096x4096) is far more than the 1280 px we keep.
LOSSLESS_MAX_PIXELS: Final = 4096 * 4096
_LOSSLESS: Final = frozenset({"image/png", "image/webp"})

# Sniffed type -> the only Pillow decoder allowed to open it.
_DECODERS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/heic": "HEIF"}
SUPPORTED_TYPES: Final = frozenset(_DECODERS)
# ISO-BMFF brands of still HEIF/HEIC images (iPhones write "heic"; "mif1" is the generic HEIF brand).
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
# Declarations we accept as "some image"; the bytes decide which one.
_IMAGE_DECLARATIONS: Final = SUPPORTED_TYPES | {"image/jpg", "image/heif", "application/octet-stream"}


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    phash: str  # 16 hex digits (64 bits); compare with ``hamming``
    sha256: str  # of the original upload, hex
    source_type: str  # what the original bytes were, by their magic numbers


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    max_edge: int = DEFAULT_MAX_EDGE

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageLimits:
        DECODE_BUDGET.configure(settings.image_decode_budget_mb * 1024 * 1024)
        return cls(max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)

    def prepare(self, data: bytes, *, declared_type: str | None = None) -> PreparedImage:
        return prepare_image(
            data,
            max_bytes=self.max_bytes,
            max_pixels=self.max_pixels,
            declared_type=declared_type,
            max_edge=self.max_edge,
        )


def sniff_image_type(data: bytes) -> str | None:
    """The supported image type the bytes start with, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


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
    _check_declaration(declared_type)
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


def _check_declaration(declared_type: str | None) -> None:
    # Phones mislabel images (HEIC sent as image/jpeg), so an image declaration never overrides the
    # bytes; a declaration that is not an image at all is a client error worth naming.
    if declared_type is None:
        return
    media_type = declared_type.split(";", 1)[0].strip().lower()
    if media_type not in _IMAGE_DECLARATIONS:
        raise UnsupportedMediaType(
            f"Content type {media_type!r} is not an accepted image type.",
            code="unsupported-image-type",
            supported=sorted(SUPPORTED_TYPES),
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


class DecodeBudget:
    """Bytes of image decoding this process allows at once (threads wait for their share; a decode larger
    than the whole budget waits until it has it all). Sized from memory, not from CPUs: see the module doc."""

    def __init__(self, total_bytes: int, *, wait_s: float = 30.0) -> None:
        self.total = total_bytes
        self.wait_s = wait_s
        self._free = total_bytes
        self._cond = threading.Condition()

    def configure(self, total_bytes: int) -> None:
        with self._cond:
            self._free += total_bytes - self.total
            self.total = total_bytes
            self._cond.notify_all()

    @contextlib.contextmanager
    def reserve(self, cost: int) -> Iterator[None]:
        share = min(cost, self.total)
        with self._cond:
            if not self._cond.wait_for(lambda: self._free >= share, timeout=self.wait_s):
                raise ServiceUnavailable(
                    "Too many large images are being processed; please retry shortly.",
                    code="image-decoder-busy",
                )
            self._free -= share
        try:
            yield
        finally:
            with self._cond:
                self._free += share
                self._cond.notify_all()


DECODE_BUDGET = DecodeBudget(192 * 1024 * 1024)  # ECOECO_IMAGE_DECODE_BUDGET_MB

try:
    _malloc_trim: Callable[[int], int] | None = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc: its allocator returns memory its own way
    _malloc_trim = None


def release_memory() -> None:
    """Give freed heap pages back to the OS: a big decode's pages otherwise stay in the process' RSS."""
    if _malloc_trim is not None:
        _malloc_trim(0)


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


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two perceptual hashes (0 = same picture, ≤ ~10 = near-duplicate)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
