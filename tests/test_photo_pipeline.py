"""The photo pipeline: what is accepted, what is refused, and that no metadata survives."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, PngImagePlugin

from core.seekers.photos import MAX_BYTES, MAX_SIDE, MAX_STORED_BYTES, PhotoRejected, clean_photo

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


# Every kind of metadata a camera or editor writes, each carrying marker bytes that must not reach the cleaned photo.
MAKER_NOTE = b"KETPAAR-MAKERNOTE-serial-4711"
GPS_DATUM = "KETPAAR-GPS-DATUM"
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>KETPAAR-XMP-creator</rdf:Description></x:xmpmeta>'
COMMENT = b"KETPAAR-JPEG-COMMENT"
IPTC_CAPTION = b"KETPAAR-IPTC-CAPTION"
PNG_TEXT = "KETPAAR-PNG-TEXT"
PNG_ITXT = "KETPAAR-PNG-ITXT"
ICC_DESCRIPTION = b"KETPAAR-ICC-PROFILE"
EXIF_IFD = 0x8769
MAKER_NOTE_TAG = 0x927C
GPS_MAP_DATUM = 0x12


def camera_exif() -> Image.Exif:
    """EXIF as a phone writes it: the maker, a GPS position and datum, and a MakerNote blob."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(EXIF_IFD)[MAKER_NOTE_TAG] = MAKER_NOTE
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (13.0, 4.0, 57.7), 3: "E", 4: (80.0, 16.0, 14.5), GPS_MAP_DATUM: GPS_DATUM})
    return exif


def s15f16(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def rgb_icc_profile(red: tuple[float, float, float], green: tuple[float, float, float], blue: tuple[float, float, float]) -> bytes:
    """A minimal ICC v2 display profile (linear curves, the given D50 primaries) whose description is a marker."""
    desc = b"desc" + bytes(4) + struct.pack(">I", len(ICC_DESCRIPTION) + 1) + ICC_DESCRIPTION + b"\0" + bytes(8) + bytes(3 + 67)
    xyz = {b"rXYZ": red, b"gXYZ": green, b"bXYZ": blue, b"wtpt": (0.9642, 1.0, 0.8249)}
    tags = [(b"desc", desc)] + [(sig, b"XYZ " + bytes(4) + s15f16(*v)) for sig, v in xyz.items()]
    tags += [(sig, b"curv" + bytes(4) + struct.pack(">I", 0)) for sig in (b"rTRC", b"gTRC", b"bTRC")]  # 0 points: identity
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)  # tag data starts on 4-byte boundaries
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I", size) + bytes(4) + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + bytes(12) + b"acsp"
    header += bytes(68 - len(header)) + s15f16(0.9642, 1.0, 0.8249)
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


SRGB_RED, SRGB_GREEN, SRGB_BLUE = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
SWAPPED_ICC = rgb_icc_profile(red=SRGB_BLUE, green=SRGB_GREEN, blue=SRGB_RED)  # what the file calls red is sRGB blue


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Insert a raw JPEG segment right after the start-of-image marker (how Pillow cannot write IPTC)."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def iptc_app13(caption: bytes) -> bytes:
    """A Photoshop APP13 payload holding one IPTC-IIM record: 2:120, the caption."""
    iptc = b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    resource = b"8BIM" + b"\x04\x04" + b"\0\0" + struct.pack(">I", len(iptc)) + iptc + bytes(len(iptc) % 2)
    return b"Photoshop 3.0\0" + resource


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PNG_TEXT)
    info.add_itxt("Description", PNG_ITXT, lang="en")
    return encoded(photo_like(), "PNG", pnginfo=info, exif=camera_exif())


def photo_like() -> Image.Image:
    return Image.new("RGB", (120, 80), (200, 30, 30))


METADATA_KINDS = {
    "exif-gps-makernote": (lambda: encoded(photo_like(), "JPEG", exif=camera_exif()), [MAKER_NOTE, GPS_DATUM.encode(), b"PhoneMaker"]),
    "xmp": (lambda: encoded(photo_like(), "JPEG", xmp=XMP), [b"KETPAAR-XMP-creator", b"adobe:ns:meta"]),
    "icc-profile": (lambda: encoded(photo_like(), "JPEG", icc_profile=SWAPPED_ICC), [ICC_DESCRIPTION, b"acsp", b"ICC_PROFILE"]),
    "jpeg-comment": (lambda: encoded(photo_like(), "JPEG", comment=COMMENT), [COMMENT]),
    "iptc-app13": (lambda: with_segment(encoded(photo_like(), "JPEG"), 0xED, iptc_app13(IPTC_CAPTION)), [IPTC_CAPTION, b"8BIM"]),
    "png-text-itxt-exif": (png_with_text, [PNG_TEXT.encode(), PNG_ITXT.encode(), MAKER_NOTE]),
    "webp-exif-xmp-icc": (
        lambda: encoded(photo_like(), "WEBP", exif=camera_exif(), xmp=XMP, icc_profile=SWAPPED_ICC),
        [MAKER_NOTE, GPS_DATUM.encode(), b"KETPAAR-XMP-creator", ICC_DESCRIPTION],
    ),
}


def jpeg_segments(jpeg: bytes) -> list[int]:
    """The marker codes of a JPEG's segments, from start-of-image up to start-of-scan."""
    assert jpeg[:2] == b"\xff\xd8"
    markers, pos = [0xD8], 2
    while pos < len(jpeg):
        assert jpeg[pos] == 0xFF, f"not a segment at byte {pos}"
        marker = jpeg[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    raise AssertionError("no start of scan")


@pytest.mark.parametrize("kind", list(METADATA_KINDS))
def test_every_kind_of_metadata_is_gone_from_the_cleaned_photo(kind: str) -> None:
    build, markers = METADATA_KINDS[kind]
    source = build()
    for marker in markers:
        assert marker in source, marker  # the fixture really carries it
    out = clean_photo(source)
    for marker in markers:
        assert marker not in out, marker
    segments = jpeg_segments(out)
    app_or_comment = [m for m in segments if 0xE0 <= m <= 0xEF or m == 0xFE]
    assert app_or_comment == [0xE0], [hex(m) for m in segments]  # only the JFIF header: no APP1/APP2/APP13, no COM
    cleaned = Image.open(io.BytesIO(out))
    assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & cleaned.info.keys(), cleaned.info.keys()
    assert cleaned.size == (120, 80) and cleaned.mode == "RGB"


def test_colours_tagged_with_a_profile_are_converted_to_srgb_before_the_profile_is_dropped() -> None:
    # The profile says the file's "red" channel is really sRGB blue: a viewer honouring it shows blue, so must we.
    source = encoded(Image.new("RGB", (32, 32), (255, 0, 0)), "PNG", icc_profile=SWAPPED_ICC)
    pixel = Image.open(io.BytesIO(clean_photo(source))).getpixel((16, 16))
    assert isinstance(pixel, tuple) and pixel[2] > 200 and pixel[0] < 60, pixel


def test_a_broken_colour_profile_is_dropped_and_the_photo_still_used() -> None:
    source = encoded(Image.new("RGB", (32, 32), (255, 0, 0)), "JPEG", icc_profile=b"KETPAAR-not-a-profile" * 10)
    out = clean_photo(source)
    pixel = Image.open(io.BytesIO(out)).getpixel((16, 16))
    assert b"KETPAAR-not-a-profile" not in out and isinstance(pixel, tuple) and pixel[0] > 200, pixel


def test_a_two_frame_mpo_from_a_phone_becomes_a_plain_jpeg_of_its_first_frame() -> None:
    first, second = Image.new("RGB", (90, 60), (220, 20, 20)), Image.new("RGB", (90, 60), (20, 20, 220))
    source = encoded(first, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(source)) as mpo:
        assert mpo.format == "MPO" and getattr(mpo, "n_frames", 1) == 2  # the fixture is what a phone sends
    out = clean_photo(source)
    cleaned = Image.open(io.BytesIO(out))
    assert cleaned.format == "JPEG" and getattr(cleaned, "n_frames", 1) == 1 and "mp" not in cleaned.info
    assert out.count(b"\xff\xd8") == 1 and 0xE2 not in jpeg_segments(out)  # one image, no MP index (APP2)
    pixel = cleaned.getpixel((45, 30))
    assert cleaned.size == (90, 60) and isinstance(pixel, tuple) and pixel[0] > 200 and pixel[2] < 60, pixel
