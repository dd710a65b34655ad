"""What image intake knows without decoding a pixel: the types we accept and how the bytes tell them apart,
the prepared image, the process-wide decode budget, and how far apart two perceptual hashes are.

Light on purpose (no numpy, no Pillow): the API imports it at start-up; :mod:`ecoeco.vision.pixels` does the
decoding, on the first image. :mod:`ecoeco.vision.images` describes the intake as a whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from ecoeco.core.errors import ServiceUnavailable, UnsupportedMediaType

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


def check_declaration(declared_type: str | None) -> None:
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


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two perceptual hashes (0 = same picture, ≤ ~10 = near-duplicate)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
