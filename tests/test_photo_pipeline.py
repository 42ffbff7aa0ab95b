"""The photo pipeline: what is accepted, what is refused, and that no metadata survives."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.photos import MAX_BYTES, MAX_SIDE, MAX_STORED_BYTES, PhotoRejected, clean_photo

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def with_gps_and_rotation() -> bytes:
    """A 400x200 JPEG whose EXIF holds a GPS position and 'rotate 90°' orientation."""
    img = Image.new("RGB", (400, 200), (200, 30, 30))
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the camera was held upright: show rotated 90° clockwise
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (13.0, 4.0, 57.7), 3: "E", 4: (80.0, 16.0, 14.5)})
    return encoded(img, "JPEG", exif=exif)


def test_gps_and_every_other_metadata_are_stripped_and_orientation_applied() -> None:
    source = with_gps_and_rotation()
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)  # the fixture really has GPS
    cleaned = Image.open(io.BytesIO(clean_photo(source)))
    assert not cleaned.getexif() and not cleaned.getexif().get_ifd(GPS_IFD)
    assert "exif" not in cleaned.info and cleaned.size == (200, 400)  # turned upright


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_are_accepted_and_re_encoded_as_jpeg(fmt: str) -> None:
    out = clean_photo(encoded(Image.new("RGB", (64, 48), (1, 2, 3)), fmt))
    assert out[:2] == b"\xff\xd8"


def test_large_photos_are_downscaled_and_kept_under_the_stored_size() -> None:
    noisy = Image.effect_noise((3200, 2400), 80).convert("RGB")  # noise compresses badly
    source = encoded(noisy, "JPEG", quality=80)
    assert MAX_STORED_BYTES < len(source) < MAX_BYTES
    out = clean_photo(source)
    img = Image.open(io.BytesIO(out))
    assert max(img.size) == MAX_SIDE and len(out) <= MAX_STORED_BYTES


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a not allowed" + b"\0" * 50, "not_image"),
        (b"%PDF-1.7 a document", "not_image"),
        (encoded(Image.new("RGB", (10, 10)), "GIF"), "not_image"),
        (encoded(Image.new("RGB", (300, 300), (9, 9, 9)), "JPEG")[:300], "unreadable"),
        (b"\xff" * (MAX_BYTES + 1), "too_big"),
    ],
)
def test_non_images_truncated_and_oversized_files_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(PhotoRejected) as info:
        clean_photo(data)
    assert info.value.reason == reason


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = encoded(Image.new("L", (10_000, 10_000)), "PNG")  # 100 megapixels in a few kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(PhotoRejected) as info:
        clean_photo(bomb)
    assert info.value.reason == "too_big"
