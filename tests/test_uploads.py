"""Photo uploads are read as they stream in and refused once past the limit, whatever the client declares."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot import webchat
from core.seekers.photos import MAX_BYTES
from tests.chat import make_photo
from webhooks.uploads import PhotoTooLarge, read_photo_upload

LIMIT = 12 * 1024 * 1024
VIRTUAL_SIZE = 200 * 1024 * 1024  # never allocated: made 64 KB at a time as the server asks for it
SLACK = 1024 * 1024  # what the server may pull past the limit before it stops
BOUNDARY = "ketpaar-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class LazyBody:
    """A multipart body with one huge "photo" part, made on demand; counts the bytes handed to the server."""

    def __init__(self, size: int = VIRTUAL_SIZE, field: str = "photo") -> None:
        self.size = size
        self.pulled = 0
        self.head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="big.jpg"\r\n'
                     "Content-Type: image/jpeg\r\n\r\n").encode()  # fmt: skip
        self.chunk = b"\xab" * (64 * 1024)  # one buffer, yielded again and again

    def __aiter__(self) -> LazyBody:
        return self

    async def __anext__(self) -> bytes:
        if self.pulled >= self.size:
            raise StopAsyncIteration
        piece = self.head if self.pulled == 0 else self.chunk
        self.pulled += len(piece)
        return piece


def upload_app() -> FastAPI:
    """A minimal app whose one route reads a photo upload with a 12 MB limit."""
    app = FastAPI()

    @app.post("/upload")
    async def upload(request: Request) -> Response:
        try:
            photo = await read_photo_upload(request, LIMIT)
        except PhotoTooLarge:
            return JSONResponse({"error": "too large"}, status_code=413)
        except webchat.WebchatInputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse({"size": len(photo), "sha256": hashlib.sha256(photo).hexdigest()})

    return app


@pytest.fixture
async def client() -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=upload_app()), base_url="http://test") as client:
        yield client


def multipart(*parts: tuple[str, str | None, bytes], boundary: str = BOUNDARY, close: bool = True) -> bytes:
    """A multipart/form-data body written by hand, so tests can make it wrong in exact ways."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + (f"--{boundary}--\r\n".encode() if close else b"")


async def test_a_huge_body_without_content_length_is_refused_soon_after_the_limit(client: httpx.AsyncClient) -> None:
    body = LazyBody()
    response = await client.post("/upload", content=body, headers={"content-type": MULTIPART})
    assert response.status_code == 413
    assert LIMIT < body.pulled < LIMIT + SLACK, body.pulled


async def test_a_small_content_length_does_not_let_a_huge_body_through(client: httpx.AsyncClient) -> None:
    body = LazyBody()
    response = await client.post("/upload", content=body, headers={"content-type": MULTIPART, "content-length": "1000"})
    assert response.status_code == 413
    assert body.pulled < LIMIT + SLACK, body.pulled


async def test_a_declared_content_length_over_the_limit_is_refused_before_any_body_is_read(client: httpx.AsyncClient) -> None:
    body = LazyBody()
    response = await client.post("/upload", content=body, headers={"content-type": MULTIPART, "content-length": str(VIRTUAL_SIZE)})
    assert response.status_code == 413 and body.pulled == 0


async def test_a_photo_one_byte_over_the_limit_is_refused_even_inside_the_envelope_allowance(client: httpx.AsyncClient) -> None:
    response = await client.post("/upload", files={"photo": ("p.jpg", b"\0" * (LIMIT + 1), "image/jpeg")})
    assert response.status_code == 413


async def test_a_normal_photo_arrives_intact_beside_small_plain_fields(client: httpx.AsyncClient) -> None:
    photo = make_photo()
    response = await client.post("/upload", files={"photo": ("p.jpg", photo, "image/jpeg")}, data={"caption": "lunch"})
    assert response.status_code == 200, response.text
    assert response.json() == {"size": len(photo), "sha256": hashlib.sha256(photo).hexdigest()}


async def test_a_photo_exactly_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/upload", files={"photo": ("p.jpg", b"\1" * LIMIT, "image/jpeg")})
    assert response.status_code == 200 and response.json()["size"] == LIMIT


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (multipart(("file", "a.jpg", b"x")), MULTIPART, 'a form field named "photo"'),
        (multipart(("caption", None, b"hello")), MULTIPART, 'a form field named "photo"'),
        (multipart(("photo", "a.jpg", b"x"), ("photo", "b.jpg", b"y")), MULTIPART, "one photo"),
        (multipart(("photo", "a.jpg", b"x"), ("extra", "b.jpg", b"y")), MULTIPART, 'a form field named "photo"'),
        (multipart(("photo", "a.jpg", b"")), MULTIPART, "empty"),
        (multipart(("photo", "a.jpg", b"half a photo"), close=False)[:-10], MULTIPART, "ended before the photo"),
        (multipart(*[(f"f{i}", None, b"x") for i in range(7)]), MULTIPART, "at most"),
        (f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(), MULTIPART, "Content-Disposition"),
        (b"no boundary anywhere in here", MULTIPART, "not valid multipart"),
        (multipart(("photo", "a.jpg", b"x")), "multipart/form-data", "boundary"),
        (multipart(("photo", "a.jpg", b"x")), "application/octet-stream", "multipart/form-data"),
    ],
    ids=["other-file", "no-photo", "two-photos", "photo-and-file", "empty", "truncated", "too-many-fields",
         "no-disposition", "garbage", "no-boundary", "not-multipart"],  # fmt: skip
)
async def test_malformed_uploads_are_refused_with_a_clear_message(
    client: httpx.AsyncClient, body: bytes, content_type: str, message: str
) -> None:
    response = await client.post("/upload", content=body, headers={"content-type": content_type})
    assert response.status_code == 422 and message in response.json()["error"], response.text


async def test_part_headers_longer_than_any_client_sends_are_refused_by_the_parser(client: httpx.AsyncClient) -> None:
    body = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="{"a" * 20_000}"\r\n\r\nx\r\n--{BOUNDARY}--\r\n'
    response = await client.post("/upload", content=body.encode(), headers={"content-type": MULTIPART})
    assert response.status_code == 422 and "not valid multipart" in response.json()["error"]


async def test_the_webchat_route_stops_reading_an_oversize_upload_and_answers_413(app_env: dict[str, Any]) -> None:
    body = LazyBody()
    response = await app_env["client"].post("/webchat/donor-1/messages", content=body, headers={"content-type": MULTIPART})
    assert body.pulled < MAX_BYTES + SLACK, body.pulled
    assert response.status_code == 413 and "10 MB" in response.json()["error"]


async def test_the_webchat_route_takes_a_photo_and_names_the_missing_field(app_env: dict[str, Any]) -> None:
    client = app_env["client"]
    accepted = await client.post("/webchat/donor-1/messages", files={"photo": ("p.jpg", make_photo(), "image/jpeg")})
    assert accepted.status_code == 202, accepted.text
    refused = await client.post("/webchat/donor-1/messages", files={"picture": ("p.jpg", make_photo(), "image/jpeg")})
    assert refused.status_code == 422 and 'a form field named "photo"' in refused.json()["error"]
