"""Photos: checked, re-encoded without metadata, and kept in a local directory."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import warnings
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # above this Pillow's decompression-bomb guard stops the decode
MAX_SIDE = 1600
MAX_STORED_BYTES = 500 * 1024
ALLOWED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}  # MPO: a JPEG plus more frames, what many phone cameras write


class PhotoRejected(ValueError):
    """A photo that cannot be used; `reason` is a stable code the flows turn into a reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # too_big | not_image | unreadable


def clean_photo(data: bytes) -> bytes:
    """Validate an image and return it as a JPEG rebuilt from its pixels alone, no larger than MAX_SIDE."""
    if len(data) > MAX_BYTES:
        raise PhotoRejected("too_big")
    upright = _decode_upright_srgb(data)
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    # A new image holding only the pixels: nothing of the upload's info dict (EXIF, XMP, ICC, JPEG
    # comment, IPTC, PNG text...) can reach the encoder, which re-writes some of it on its own
    # (Pillow saves `info["comment"]` into every JPEG).
    pixels = Image.new("RGB", upright.size)
    pixels.paste(upright)
    for quality in (82, 70, 55, 40):
        out = io.BytesIO()
        pixels.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_STORED_BYTES:
            break
    return out.getvalue()


def _decode_upright_srgb(data: bytes) -> Image.Image:
    """Decode the first frame, turned as its EXIF orientation says, as RGB pixels in sRGB terms."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in ALLOWED_FORMATS:
                    raise PhotoRejected("not_image")
                img.seek(0)  # the photo is the first frame; an MPO's others are previews or the second eye of a stereo pair
                img.load()
                icc = img.info.get("icc_profile")
                upright = ImageOps.exif_transpose(img)
                return _to_srgb(upright, icc if isinstance(icc, bytes) else None)
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("too_big") from None
    except UnidentifiedImageError:
        raise PhotoRejected("not_image") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise PhotoRejected("unreadable") from None


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB pixels, converted from the embedded colour profile to sRGB when there is one."""
    base = img if img.mode in {"RGB", "L", "CMYK"} else img.convert("L" if img.mode == "LA" else "RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            # A fresh sRGB profile per call: lcms profile handles are not safe to share between threads.
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(base, source, srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):  # OSError: bytes that are no profile at all
            pass  # a broken profile, or one for another colour space than the pixels': drop it unused
        else:
            if converted is not None:
                return converted
    return base.convert("RGB")


class LocalPhotoStore:
    """Photo bytes as files named by random ids under one directory, encrypted at rest with
    AES-256-GCM (a fresh nonce per file, the photo id as associated data)."""

    def __init__(self, root: Path, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the photo key must be 32 bytes (AES-256)")
        self.root = root
        self._aead = AESGCM(key)

    async def put(self, data: bytes) -> str:
        """Encrypt and store bytes; return the new photo id."""
        photo_id = secrets.token_urlsafe(18)
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, data, photo_id.encode())
        await asyncio.to_thread(self._write, photo_id, sealed)
        return photo_id

    def _write(self, photo_id: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{photo_id}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.root / photo_id)

    async def get(self, photo_id: str) -> bytes | None:
        """Read a photo's bytes, or None if it is gone."""
        path = self.root / photo_id
        if "/" in photo_id or not path.is_file():
            return None
        sealed = await asyncio.to_thread(path.read_bytes)
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], photo_id.encode())
        except InvalidTag:
            return None  # tampered, or written under another key: never served

    async def delete(self, photo_id: str) -> None:
        """Remove a photo's bytes."""
        (self.root / photo_id).unlink(missing_ok=True)

    async def written_before(self, cutoff: float) -> list[str]:
        """Names of the files last written before `cutoff` (a POSIX time): photo ids, and the
        temporary files of writes that never finished (named ".<id>.tmp")."""
        return await asyncio.to_thread(self._written_before, cutoff)

    def _written_before(self, cutoff: float) -> list[str]:
        if not self.root.is_dir():
            return []
        names = []
        for entry in os.scandir(self.root):
            with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    names.append(entry.name)
        return sorted(names)
