"""A photo upload read as it streams in: never spooled, refused as soon as it passes the size limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import python_multipart
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from bot import webchat

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

PHOTO_FIELD = b"photo"
DOCUMENT_FIELD = b"document"  # a file for the flows (a treasurer's bank statement), not an image
ENVELOPE_BYTES = 64 * 1024  # boundaries, part headers and a few small fields around the photo
MAX_PARTS = 6  # the photo and a few small fields, as the form reader this replaces allowed
MAX_BOUNDARY = 70  # RFC 2046's longest boundary

NOT_IN_PHOTO_FIELD = 'send the image in a form field named "photo"'


class PhotoTooLarge(Exception):
    """An uploaded photo over the size limit."""


class BodyTooLarge(Exception):
    """A request body over its limit (refused before it is all read)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refused as soon as it passes `limit` bytes, whatever Content-Length says."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


@dataclass(frozen=True)
class Upload:
    """One uploaded file: which form field carried it, its bytes, and what its part said it was."""

    field: str  # "photo" or "document"
    data: bytes
    content_type: str = ""
    filename: str = ""


async def read_photo_upload(request: Request, max_bytes: int) -> bytes:
    """Return the bytes of the multipart/form-data field "photo", reading little more than max_bytes."""
    return (await read_upload(request, {PHOTO_FIELD: max_bytes})).data


async def read_upload(request: Request, limits: dict[bytes, int]) -> Upload:
    """Return the one file field of a multipart/form-data body among `limits` (field name → most
    bytes), reading little more than the largest limit; PhotoTooLarge past a field's limit."""
    limit = max(limits.values()) + ENVELOPE_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PhotoTooLarge  # refused before any of the body is read
    part = _PhotoPart(limits)
    # The parser bounds each part's header lines and their number itself (a MultipartParseError).
    parser = python_multipart.MultipartParser(_boundary(request), part.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            # Counted here too: a Content-Length can lie, or be absent (chunked transfer).
            if received > limit:
                raise PhotoTooLarge
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise webchat.WebchatInputError("the upload is not valid multipart/form-data") from None
    data = part.photo()
    return Upload(part.field.decode(), data, part.content_type.decode("latin-1"), part.filename.decode("utf-8", "replace"))


def _boundary(request: Request) -> bytes:
    """The multipart boundary from the Content-Type header."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not 0 < len(boundary) <= MAX_BOUNDARY:
        raise webchat.WebchatInputError("send the photo as multipart/form-data with a boundary")
    return boundary


class _PhotoPart:
    """Parser callbacks keeping the "photo" field's bytes, skipping small plain fields and refusing other files."""

    def __init__(self, limits: dict[bytes, int]) -> None:
        self.limits = limits  # file fields accepted, and the most bytes of each
        self.max_bytes = 0
        self.field = b""  # which of them this upload carries
        self.content_type = b""  # what its part says it is (checked by the caller)
        self.filename = b""
        self.part_type = b""
        self.data: bytearray | None = None  # the photo so far, once its part has begun
        self.complete = False  # the photo's part reached its closing boundary
        self.parts = 0
        self.in_photo = False
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        """The callbacks for python-multipart's streaming parser."""
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def photo(self) -> bytes:
        """The photo's bytes, once the whole body has been parsed."""
        if self.data is None:
            raise webchat.WebchatInputError(NOT_IN_PHOTO_FIELD)
        if not self.complete:
            raise webchat.WebchatInputError("the upload ended before the photo did")
        if not self.data:
            raise webchat.WebchatInputError("the photo is empty")
        return bytes(self.data)

    def on_part_begin(self) -> None:
        """A new part: forget the previous one's headers."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise webchat.WebchatInputError(f"send at most {MAX_PARTS} form fields")
        self.in_photo, self.disposition, self.part_type = False, b"", b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        """A piece of a header's name (names and values may arrive split across chunks)."""
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        """A piece of a header's value."""
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        """One header complete: only Content-Disposition matters (the photo's type is checked by decoding it)."""
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        elif self.header_name.lower() == b"content-type":
            self.part_type = self.header_value[:200]
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        """The part's headers are complete: is this the photo, a plain field to skip, or a file we refuse?"""
        kind, options = parse_options_header(self.disposition)
        name = options.get(b"name")
        if kind != b"form-data" or name is None:
            raise webchat.WebchatInputError('each form part needs "Content-Disposition: form-data; name=..."')
        if name in self.limits:
            if self.data is not None:
                raise webchat.WebchatInputError("send one photo at a time")
            self.data, self.in_photo, self.field, self.max_bytes = bytearray(), True, name, self.limits[name]
            self.content_type, self.filename = self.part_type, options.get(b"filename", b"")[:200]
        elif b"filename" in options:
            raise webchat.WebchatInputError(NOT_IN_PHOTO_FIELD)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        """Keep the photo's bytes; a plain field's are not needed (the body limit bounds them)."""
        if self.data is None or not self.in_photo:
            return
        self.data += data[start:end]
        if len(self.data) > self.max_bytes:
            raise PhotoTooLarge(self.field.decode())  # which field: a document's refusal is explained

    def on_part_end(self) -> None:
        """A part ended at its boundary."""
        if self.in_photo:
            self.complete = True



PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_media_type(data: bytes) -> str:
    """The content type of a stored image: seeker and delivery photos are re-encoded JPEG, a UPI
    top-up's QR code is PNG."""
    return "image/png" if data.startswith(PNG_SIGNATURE) else "image/jpeg"
