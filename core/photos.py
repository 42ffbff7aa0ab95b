"""Photos: checked, re-encoded without metadata, and kept in a local directory."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import warnings
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # above this Pillow's decompression-bomb guard stops the decode
MAX_SIDE = 1600
MAX_STORED_BYTES = 500 * 1024
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}


class PhotoRejected(ValueError):
    """A photo that cannot be used; `reason` is a stable code the flows turn into a reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # too_big | not_image | unreadable


def clean_photo(data: bytes) -> bytes:
    """Validate an image and return it as a metadata-free JPEG no larger than MAX_SIDE."""
    if len(data) > MAX_BYTES:
        raise PhotoRejected("too_big")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in ALLOWED_FORMATS:
                    raise PhotoRejected("not_image")
                img.load()
                upright = ImageOps.exif_transpose(img).convert("RGB")
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected("too_big") from None
    except UnidentifiedImageError:
        raise PhotoRejected("not_image") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoRejected("unreadable") from None
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    for quality in (82, 70, 55, 40):  # a fresh file each time: no EXIF, no GPS
        out = io.BytesIO()
        upright.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_STORED_BYTES:
            break
    return out.getvalue()


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
