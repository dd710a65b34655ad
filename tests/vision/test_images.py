"""Image intake with crafted hostile and awkward inputs, and with real photos for the perceptual hash."""

from __future__ import annotations

import hashlib
import io
import itertools
import struct
import zipfile
import zlib

import pytest
from PIL import Image

from ecoeco.core.errors import ProblemError, ServiceUnavailable, Unprocessable
from ecoeco.settings import Settings
from ecoeco.vision.images import ImageLimits, PreparedImage, hamming
from ecoeco.vision.intake import DEFAULT_MAX_EDGE, DecodeBudget
from ecoeco.vision.pixels import prepare_image
from tests.support.sample_images import OFF_TAXONOMY_PHOTOS, encode, photo

LIMITS = ImageLimits(max_bytes=20 * 1024 * 1024, max_pixels=50_000_000)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
# Re-encoding and resizing must leave the pHash (almost) unchanged; different photos must differ a lot.
SAME_PICTURE_MAX_BITS = 6
DIFFERENT_PICTURE_MIN_BITS = 16


def prepare(data: bytes, declared_type: str | None = None) -> PreparedImage:
    return LIMITS.prepare(data, declared_type=declared_type)


def rejected(data: bytes, declared_type: str | None = None, limits: ImageLimits = LIMITS) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        limits.prepare(data, declared_type=declared_type)
    return info.value


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(side: int, *, valid_data: bool = True) -> bytes:
    """A greyscale PNG of side x side black pixels: tiny on disk, huge once decoded."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    if valid_data:
        packer = zlib.compressobj(9)
        rows = bytes(side + 1) * 500  # each row: filter byte 0, then the pixels
        idat = b"".join(packer.compress(rows) for _ in range(side // 500)) + packer.flush()
    else:
        idat = b"definitely not zlib data"
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def decoded(prepared: PreparedImage) -> Image.Image:
    im = Image.open(io.BytesIO(prepared.data))
    im.load()
    return im


# --- accepted formats and the shape of the result ---------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "source_type"),
    [
        ("JPEG", {"quality": 90}, "image/jpeg"),
        ("PNG", {}, "image/png"),
        ("WEBP", {"quality": 80}, "image/webp"),
        ("HEIF", {"quality": 70}, "image/heic"),  # pillow-heif encodes real HEIC (HEVC) here
    ],
)
def test_each_supported_format_becomes_a_clean_jpeg(
    fmt: str, params: dict[str, int], source_type: str
) -> None:
    original = encode(photo("coffee"), fmt, **params)

    prepared = prepare(original)

    assert prepared.source_type == source_type
    assert prepared.content_type == "image/jpeg"
    out = decoded(prepared)
    assert out.format == "JPEG"
    assert out.mode == "RGB"
    assert (out.width, out.height) == (prepared.width, prepared.height) == (600, 400)
    assert prepared.sha256 == hashlib.sha256(original).hexdigest()


def test_large_photo_is_resized_to_the_max_edge_keeping_its_aspect() -> None:
    big = photo("astronaut").resize((3000, 2000))

    prepared = prepare(encode(big, "JPEG", quality=90))

    assert (prepared.width, prepared.height) == (DEFAULT_MAX_EDGE, round(DEFAULT_MAX_EDGE * 2000 / 3000))
    assert decoded(prepared).size == (prepared.width, prepared.height)


def test_transparent_areas_become_white_not_black() -> None:
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    im.paste((200, 0, 0, 255), (0, 0, 32, 64))

    out = decoded(prepare(encode(im, "PNG")))

    r, g, b = out.getpixel((48, 32))  # type: ignore[misc]
    assert min(r, g, b) > 240
    r, g, b = out.getpixel((16, 32))  # type: ignore[misc]
    assert r > 150 and g < 60 and b < 60


def test_limits_come_from_settings() -> None:
    settings = Settings(image_max_bytes=1234, image_max_pixels=5678)
    limits = ImageLimits.from_settings(settings)
    assert (limits.max_bytes, limits.max_pixels) == (1234, 5678)


# --- refusals: size, type, corrupt data, bombs --------------------------------------------------------


def test_30_mb_upload_is_413_before_anything_is_read() -> None:
    # Valid JPEG magic so that only the size can be the reason.
    error = rejected(b"\xff\xd8\xff" + bytes(30 * 1024 * 1024))
    assert (error.status, error.code) == (413, "image-too-large")
    assert error.extra["max_bytes"] == LIMITS.max_bytes


@pytest.mark.parametrize(
    "data",
    [
        b"hello, I am a text file",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"%PDF-1.7\n1 0 obj <<>> endobj",
        b"PK\x03\x04" + bytes(64),
        encode(photo("coffee").resize((60, 40)), "GIF"),
        encode(photo("coffee").resize((60, 40)), "BMP"),
    ],
    ids=["text", "html", "pdf", "zip", "gif", "bmp"],
)
def test_not_a_supported_image_is_415(data: bytes) -> None:
    error = rejected(data)
    assert (error.status, error.code) == (415, "unsupported-image-type")


def test_empty_upload_is_422() -> None:
    error = rejected(b"")
    assert (error.status, error.code) == (422, "image-empty")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_truncated_image_is_422(fmt: str) -> None:
    whole = encode(photo("coffee"), fmt)
    error = rejected(whole[: len(whole) * 2 // 3])
    assert (error.status, error.code) == (422, "image-undecodable")


def test_right_magic_wrong_body_is_422() -> None:
    error = rejected(b"RIFF\x00\x10\x00\x00WEBPVP8 " + b"garbage" * 40)
    assert (error.status, error.code) == (422, "image-undecodable")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_12k_by_12k_png_bomb_is_422() -> None:
    bomb = png_bomb(12_000)
    assert len(bomb) < 1024 * 1024  # small file …
    error = rejected(bomb)  # … 144 megapixels
    assert (error.status, error.code) == (422, "image-too-many-pixels")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_is_checked_before_any_pixel_is_decoded() -> None:
    # The header promises 144 MP but the data is garbage: decoding would report "undecodable", so
    # "too many pixels" proves the refusal came from the header alone.
    error = rejected(png_bomb(12_000, valid_data=False))
    assert error.code == "image-too-many-pixels"


def test_pillows_own_bomb_guard_is_a_422_too() -> None:
    # With a lax pixel limit of ours, Pillow's hard limit (2 x MAX_IMAGE_PIXELS) still stops a 400 MP image.
    lax = ImageLimits(max_bytes=LIMITS.max_bytes, max_pixels=10**12)
    error = rejected(png_bomb(20_000, valid_data=False), limits=lax)
    assert (error.status, error.code) == (422, "image-too-many-pixels")


# --- declared content types -------------------------------------------------------------------------


def test_image_declaration_that_lies_about_html_is_415() -> None:
    error = rejected(b"<html><body>not an image</body></html>", declared_type="image/jpeg")
    assert (error.status, error.code) == (415, "unsupported-image-type")


def test_non_image_declaration_is_415_even_for_image_bytes() -> None:
    error = rejected(encode(photo("coffee"), "PNG"), declared_type="text/html; charset=utf-8")
    assert (error.status, error.code) == (415, "unsupported-image-type")


@pytest.mark.parametrize("declared", ["image/png", "image/jpeg", "application/octet-stream", None])
def test_bytes_not_the_declaration_decide_the_format(declared: str | None) -> None:
    # Phones label HEIC as image/jpeg and the like: a wrong *image* label is tolerated, the bytes win.
    prepared = prepare(encode(photo("coffee"), "HEIF"), declared_type=declared)
    assert prepared.source_type == "image/heic"
    assert decoded(prepared).format == "JPEG"


# --- polyglots: whatever trails or hides in the file must not survive ---------------------------------


def zip_payload() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("evil.html", "<script>steal()</script> POLYGLOT-MARKER")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "payload"),
    [
        ("PNG", zip_payload()),
        ("JPEG", b"<html><script>steal()</script> POLYGLOT-MARKER</html>"),
    ],
    ids=["png+zip", "jpeg+html"],
)
def test_polyglot_payload_is_neutralised_by_reencoding(fmt: str, payload: bytes) -> None:
    polyglot = encode(photo("coffee"), fmt) + payload
    assert zipfile.is_zipfile(io.BytesIO(polyglot)) or b"<html>" in polyglot  # it really is both

    prepared = prepare(polyglot)

    assert b"POLYGLOT-MARKER" not in prepared.data
    assert b"PK\x03\x04" not in prepared.data
    assert not zipfile.is_zipfile(io.BytesIO(prepared.data))
    # Nothing trails the JPEG's end-of-image marker.
    assert prepared.data.endswith(b"\xff\xd9")
    assert prepared.data.count(b"\xff\xd9") == 1


def test_payload_hidden_in_metadata_is_dropped() -> None:
    im = photo("coffee")
    exif = im.getexif()
    exif[0x010E] = "POLYGLOT-MARKER in ImageDescription"
    original = encode(
        im, "JPEG", exif=exif.tobytes(), comment=b"POLYGLOT-MARKER", xmp=b"<x>POLYGLOT-MARKER</x>"
    )
    assert original.count(b"POLYGLOT-MARKER") == 3

    assert b"POLYGLOT-MARKER" not in prepare(original).data


# --- EXIF: orientation applied, then everything (GPS above all) removed ----------------------------------


def jpeg_with_gps(orientation: int = 1) -> bytes:
    # Left half red, right half blue, so rotations can be checked.
    im = Image.new("RGB", (200, 100), (255, 0, 0))
    im.paste((0, 0, 255), (100, 0, 200, 100))
    exif = im.getexif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (37.0, 33.0, 59.0), 3: "E", 4: (126.0, 58.0, 41.0)})  # Seoul
    return encode(im, "JPEG", quality=95, exif=exif.tobytes())


def test_gps_and_all_exif_are_stripped() -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the input really has GPS

    out = decoded(prepare(original))

    assert "exif" not in out.info
    assert len(out.getexif()) == 0
    assert b"Exif\x00\x00" not in prepare(original).data
    assert b"PhoneMaker" not in prepare(original).data


@pytest.mark.parametrize("fmt", ["JPEG", "HEIF"])
def test_exif_orientation_is_applied_before_stripping(fmt: str) -> None:
    im = Image.open(io.BytesIO(jpeg_with_gps(orientation=6)))  # 6: display rotated 90° clockwise
    original = encode(im, fmt, exif=im.getexif().tobytes())

    prepared = prepare(original)
    out = decoded(prepared)

    assert (prepared.width, prepared.height) == (100, 200)
    top, bottom = out.getpixel((50, 20)), out.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60  # type: ignore[index]  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60  # type: ignore[index]


# --- perceptual hash -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        lambda im: encode(im, "JPEG", quality=35),
        lambda im: encode(im.resize((im.width // 3, im.height // 3)), "PNG"),
        lambda im: encode(im.resize((im.width * 2, im.height * 2)), "WEBP", quality=50),
        lambda im: encode(im, "HEIF", quality=40),
    ],
    ids=["jpeg-q35", "third-size", "double-size-webp", "heic"],
)
@pytest.mark.parametrize("name", ["coffee", "chelsea", "astronaut"])
def test_phash_survives_reencoding_and_resizing(name: str, variant: object) -> None:
    im = photo(name)
    reference = prepare(encode(im, "PNG")).phash

    assert callable(variant)
    assert hamming(reference, prepare(variant(im)).phash) <= SAME_PICTURE_MAX_BITS


def test_phash_tells_different_photos_apart() -> None:
    hashes = {name: prepare(encode(photo(name), "PNG")).phash for name in ("coffee", *OFF_TAXONOMY_PHOTOS)}

    closest = min(hamming(hashes[a], hashes[b]) for a, b in itertools.combinations(hashes, 2))

    assert closest >= DIFFERENT_PICTURE_MIN_BITS


def test_phash_is_64_bits_of_hex() -> None:
    phash = prepare(encode(photo("coffee"), "PNG")).phash
    assert len(phash) == 16
    assert int(phash, 16).bit_length() <= 64


def test_hamming_counts_differing_bits() -> None:
    assert hamming("0000000000000000", "0000000000000000") == 0
    assert hamming("0000000000000000", "ffffffffffffffff") == 64
    assert hamming("00000000000000ff", "000000000000000f") == 4


def test_prepare_image_keyword_form_matches_limits_form() -> None:
    data = encode(photo("coffee"), "PNG")
    direct = prepare_image(data, max_bytes=LIMITS.max_bytes, max_pixels=LIMITS.max_pixels, declared_type=None)
    assert direct == prepare(data)


def test_decodes_beyond_the_budget_wait_for_it() -> None:
    budget = DecodeBudget(100, wait_s=0.2)
    with budget.reserve(60):
        with budget.reserve(40):
            pass
        with pytest.raises(ServiceUnavailable) as busy, budget.reserve(60):
            pass
    assert busy.value.code == "image-decoder-busy"
    # Larger than the whole budget: it takes all of it, once it is free.
    with budget.reserve(500), pytest.raises(ServiceUnavailable), budget.reserve(1):
        pass


def test_png_and_webp_are_bounded_tighter_than_camera_formats() -> None:
    buf = io.BytesIO()
    Image.new("L", (4097, 4096)).save(buf, format="PNG")
    with pytest.raises(Unprocessable) as err:
        prepare_image(buf.getvalue(), max_bytes=1 << 30, max_pixels=50_000_000, declared_type=None)
    assert err.value.code == "image-too-many-pixels"
