"""Seeker intake by chat with the real screener: consent, duplicate seekers by face, purge."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from core.orders.lifecycle import Status
from core.ports import UnitOfWork
from core.schedule import jobs
from core.seekers.screening import ScreeningRequest, ScreeningResult, Verdict
from tests.clock import FixedClock
from tests.conftest import running_app, unavailable
from tests.helpers import chain_events

FACES_DIR = Path(os.environ.get("KETPAAR_FACES_DIR") or Path(__file__).resolve().parents[2] / "shared" / "faces")
NOON_IST = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def astronaut() -> Image.Image:
    path = FACES_DIR / "other" / "astronaut.png"
    if not path.is_file():
        unavailable("face photos", f"{path} is absent (set KETPAAR_FACES_DIR)")
    return Image.open(path).convert("RGB")


def order_for(user: str, photo: str, lat: float) -> str:
    return f"""
        {user} > [photo: {photo}]
        {user} < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
        {user} > [tap Yes, they agreed]
        {user} < Thank you. Now share the location where the person is
        {user} > [location {lat}, 80.2707]
        {user} < What is the place like right now? [Busy and well lit]
        {user} > [tap Busy and well lit]
    """


async def test_the_same_seeker_photographed_again_nearby_is_recognised_by_face(
    app_db: Path, tmp_path: Path, astronaut: Image.Image
) -> None:
    clock = FixedClock(NOON_IST)
    async with running_app(app_db, tmp_path / "var", screening="faces", clock=clock) as env:
        chat = env["chat"]
        chat.photos["first"] = jpeg(astronaut)
        chat.photos["again"] = jpeg(ImageOps.mirror(astronaut).resize((400, 400)))  # another angle, size
        await chat.run(order_for("donor-1", "first", 13.0827) + """
            donor-1 < Meals near this person — choose one: [Curd rice]
            donor-1 > [tap Curd rice]
            donor-1 < Would you like to add a tip for the delivery worker? [No tip]
            donor-1 > [tap No tip]
            donor-1 < Meal ₹60 + delivery ₹30 + tip ₹0 = ₹90 [Pay ₹90] [Cancel]
            donor-1 > [tap Pay]
            donor-1 < Paid ₹90. Order #1 for Curd rice is with Annapoorna Mess. [Cancel order]
            rest-1  < New order #1: Curd rice (₹60) for a person near 13.08, 80.27. [Accept] [Reject]
        """)
        clock.advance(minutes=35)
        await env["runtime"].store.db.dispose()  # nothing cached between the two requests
        await chat.run(order_for("donor-2", "again", 13.0830) + """
            donor-2 < This person was given a meal 35 minutes ago, 33 m from here, so this order will not go ahead.
        """)
        clock.advance(minutes=120)  # outside the duplicate window: fed again
        await chat.run(order_for("donor-2", "again", 13.0830) + """
            donor-2 < Meals near this person — choose one: [Curd rice]
        """)


async def test_refused_consent_deletes_the_photo_and_records_it(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var") as env:
        await env["chat"].run("""
            donor-1 > [photo]
            donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
            donor-1 > [tap No]
            donor-1 < Thank you for asking them. The photo has been deleted. Without their agreement we cannot go ahead.
            donor-1 > [location 13.0827, 80.2707]
            donor-1 < Thanks for the location, but I was not expecting one now. To feed someone, send their photo first.
        """)
        runtime: Any = env["runtime"]
        async with runtime.store.reader() as uow:
            rows = (await uow.conn.exec_driver_sql("SELECT id, deleted_at FROM photos")).all()
            deleted = await chain_events(uow, "photos.deleted")
        assert len(rows) == 1 and rows[0][1] is not None
        assert await runtime.services.photos.get(rows[0][0]) is None
        assert [e.data for e in deleted] == [{"count": 1, "reason": "no_consent"}]


async def test_photos_are_encrypted_at_rest_and_purged_after_retention(app_db: Path, tmp_path: Path) -> None:
    clock = FixedClock(NOON_IST)
    async with running_app(app_db, tmp_path / "var", clock=clock) as env:
        await env["chat"].run("""
            donor-1 > [photo]
            donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
            donor-1 > [tap Yes, they agreed]
            donor-1 < Thank you. Now share the location where the person is
        """)
        runtime: Any = env["runtime"]
        async with runtime.store.reader() as uow:
            (photo_id,) = (await uow.conn.exec_driver_sql("SELECT id FROM photos")).one()
        stored = (tmp_path / "var" / "photos" / photo_id).read_bytes()
        assert b"JFIF" not in stored and (await runtime.services.photos.get(photo_id))[:2] == b"\xff\xd8"
        clock.set(NOON_IST + timedelta(days=29))
        assert (await jobs.purge_expired_data(runtime.store, runtime.services.photos))["photos"] == 0
        clock.set(NOON_IST + timedelta(days=31))
        assert (await jobs.purge_expired_data(runtime.store, runtime.services.photos))["photos"] == 1
        assert not (tmp_path / "var" / "photos" / photo_id).exists()
        async with runtime.store.reader() as uow:
            assert [e.data for e in await chain_events(uow, "photos.deleted")] == [{"count": 1, "reason": "retention"}]


async def test_an_unpaid_request_is_cancelled_after_half_an_hour_and_stops_blocking_the_seeker(
    app_db: Path, tmp_path: Path
) -> None:
    clock = FixedClock(NOON_IST)
    async with running_app(app_db, tmp_path / "var", clock=clock) as env:
        await env["chat"].run("""
            donor-1 > [photo]
            donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
            donor-1 > [tap Yes, they agreed]
            donor-1 < Thank you. Now share the location where the person is
            donor-1 > [location 13.0827, 80.2707]
            donor-1 < What is the place like right now? [Busy and well lit]
            donor-1 > [tap Busy and well lit]
            donor-1 < Meals near this person — choose one: [Curd rice] [Cancel]
        """)
        runtime: Any = env["runtime"]
        clock.advance(minutes=29)
        assert await jobs.cancel_stale_drafts(runtime.store, runtime.board) == 0
        clock.advance(minutes=2)
        assert await jobs.cancel_stale_drafts(runtime.store, runtime.board) == 1
        async with runtime.store.reader() as uow:
            (order,) = await uow.orders.find(limit=5)
        assert order.status.value == "cancelled"
        assert await jobs.cancel_stale_drafts(runtime.store, runtime.board) == 0


class SeveralFacesScreener:
    """Finds several faces in every photo, as the real screener does for a group photo."""

    async def screen(self, uow: UnitOfWork, request: ScreeningRequest) -> ScreeningResult:
        return ScreeningResult(Verdict.RETAKE, "stub", {"face": "many", "reason": "many_faces"})

    def prefetch(self, photo_id: str) -> None:
        """Nothing to prepare."""


async def test_a_photo_of_several_people_asks_for_another_and_is_no_cancellation(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", screener=SeveralFacesScreener()) as env:
        await env["chat"].run("""
            donor-1 > [photo]
            donor-1 < Did the person agree to be photographed [Yes, they agreed] [No]
            donor-1 > [tap Yes, they agreed]
            donor-1 < Thank you. Now share the location where the person is
            donor-1 > [location 13.0827, 80.2707]
            donor-1 < What is the place like right now? [Busy and well lit]
            donor-1 > [tap Busy and well lit]
            donor-1 < I can see more than one person in the photo. Please send a photo of just the person who needs the meal.
            donor-1 > /orders
            donor-1 < a photo of just one person was needed
        """)
        async with env["runtime"].store.reader() as uow:
            (order,) = await uow.orders.find(limit=5)
            moves = [e.data["transition"] for e in await chain_events(uow, "order.transitioned")]
        assert order.status is Status.RETAKE and moves == ["ask_retake"]
