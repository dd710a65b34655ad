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

``ImageLimits.prepare`` is CPU-bound: call it through ``asyncio.to_thread`` from async code. The pixel work
itself (decoding, resizing, the pHash) lives in :mod:`ecoeco.vision.pixels`, imported on the first image:
numpy and Pillow cost a process about a third of a second and 20 MB, which an API start does not need.

Memory is bounded per request and per process. A small file can hold a big picture (a 143 kB PNG of zeros
is 49 MP, 147 MB as RGB), so: JPEG is decoded at 1/2, 1/4 or 1/8 scale when that still covers the output
(``draft``); other formats are decoded once at full size and reduced at once, before any copy is made
(``reduce``, then orientation and colour conversion on the small image); and every decode first takes its
estimated bytes from a process-wide budget (:class:`DecodeBudget`, ``ECOECO_IMAGE_DECODE_BUDGET_MB``), so
eight such uploads at once queue for the budget instead of needing eight times the memory. Afterwards the
freed pages go back to the operating system (glibc keeps them in its per-thread arenas otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from ecoeco.settings import Settings
from ecoeco.vision.intake import DECODE_BUDGET, DEFAULT_MAX_EDGE, THUMBNAIL_EDGE, PreparedImage, hamming

__all__ = ["ImageLimits", "PreparedImage", "hamming", "thumbnail"]


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
        from ecoeco.vision.pixels import prepare_image  # numpy and Pillow on first use

        return prepare_image(
            data,
            max_bytes=self.max_bytes,
            max_pixels=self.max_pixels,
            declared_type=declared_type,
            max_edge=self.max_edge,
        )


def thumbnail(data: bytes, edge: int = THUMBNAIL_EDGE) -> bytes:
    """A small JPEG of a stored scan image (already one of ours: metadata-free, at most 1280 pixels)."""
    from ecoeco.vision import pixels  # Pillow on first use

    return pixels.thumbnail(data, edge)
