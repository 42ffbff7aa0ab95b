"""The second look by chat, in English and Tamil, on the web chat: a lookalike asks for a second
photo, "I can't take another", "It's someone else", and the count the cooperative sees.

The screener is the real one (database, safety, two stages) with a stand-in embedder: each test
photo is one flat colour, and the colour names a face vector made to a chosen cosine with the
first seeker's (tests/test_face_decision.py). SMS has no photos, so the second-photo request
cannot arise there; /books (with the review count) works on SMS as everywhere.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.seekers import faces
from core.seekers.screener import FaceAndSafetyScreener
from tests.chat import make_photo
from tests.clock import FixedClock
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_face_decision import VECTORS
from tests.test_tamil_transcript import latin_left

NOON_IST = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
COLOURS = {"stored": (200, 60, 60), "band": (60, 200, 60), "band2": (60, 60, 200), "miss": (200, 200, 60)}


async def colour_embed(data: bytes) -> faces.FaceResult:
    """The vector named by the photo's colour (the nearest of COLOURS after re-encoding)."""
    mean = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(axis=0)
    name = min(COLOURS, key=lambda n: float(np.abs(mean - np.array(COLOURS[n])).sum()))
    return faces.FaceResult(faces.FaceStatus.OK, VECTORS[name], 1)


class LatePhotos:
    """The app's own photo store, known only once the app has started."""

    store: Any = None

    async def get(self, photo_id: str) -> bytes | None:
        return await self.store.get(photo_id)  # type: ignore[no-any-return]


def intake(user: str, photo: str, lat: float) -> str:
    return f"""
        {user} > [photo: {photo}]
        {user} < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
        {user} > [tap Yes, they agreed]
        {user} < Thank you. Now share the location where the person is
        {user} > [location {lat}, 80.2707]
        {user} < What is the place like right now? [Busy and well lit]
        {user} > [tap Busy and well lit]
    """


ASKED = ("This person looks a little like someone given a meal near here recently, but I am not sure. "
         "Could you send one more photo of them, from another angle or in better light? [I can't take another] [Cancel]")  # fmt: skip


class App:
    """The app with the real screener over a stand-in embedder, and a first seeker already fed."""

    def __init__(self, app_db: Path, tmp_path: Path) -> None:
        self.photos = LatePhotos()
        self.screener = FaceAndSafetyScreener(self.photos, embedder=colour_embed)
        self.clock = FixedClock(NOON_IST)
        self.ctx = running_app(app_db, tmp_path / "var", screener=self.screener, clock=self.clock)

    async def __aenter__(self) -> dict[str, Any]:
        env = await self.ctx.__aenter__()
        self.photos.store = env["runtime"].services.photos
        chat = env["chat"]
        chat.photos.update({name: make_photo(colour) for name, colour in COLOURS.items()})
        await chat.run(intake("donor-1", "stored", 13.0827) + """
            donor-1 < Meals near this person — choose one: [Curd rice]
        """)
        self.clock.advance(minutes=20)
        return env

    async def __aexit__(self, *exc: object) -> None:
        await self.ctx.__aexit__(*exc)


async def face_events(env: dict[str, Any]) -> list[dict[str, Any]]:
    async with env["runtime"].store.reader() as uow:
        return [e.data for e in await chain_events(uow, "face.checked")]


async def test_a_lookalike_asks_for_a_second_photo_and_two_borderline_photos_are_a_duplicate(app_db: Path, tmp_path: Path) -> None:
    async with App(app_db, tmp_path) as env:
        await env["chat"].run(intake("donor-2", "band", 13.0828) + f"""
            donor-2 < {ASKED}
            donor-2 > [photo: band2]
            donor-2 < This person was given a meal 20 minutes ago, 11 m from here, so this order will not go ahead. [It's someone else]
        """)
        events = await face_events(env)
        assert [e["outcome"] for e in events] == ["second_photo_asked", "duplicate"]
        assert events[1]["duplicate_of_order"] == 1 and events[1]["second_similarity_bp"] >= 9_250
        assert set(events[1]) == {"order_id", "outcome", "duplicate_of_order", "similarity_bp", "second_similarity_bp",
                                  "contested_order"}  # ids and scores only: no photo, no embedding
        async with env["runtime"].store.reader() as uow:
            (order,) = await uow.orders.find(donor_id=(await uow.people.find("webchat", "donor-2")).id)
            kept = (await uow.conn.exec_driver_sql("SELECT count(*) FROM photos WHERE deleted_at IS NULL")).scalar_one()
        assert order.status.value == "rejected_duplicate" and order.screening["face_outcome"] == "both_agree"
        assert kept == 2  # the two first photos; the second photo was deleted once compared


async def test_one_borderline_photo_and_one_clear_miss_go_on(app_db: Path, tmp_path: Path) -> None:
    async with App(app_db, tmp_path) as env:
        await env["chat"].run(intake("donor-2", "band", 13.0828) + f"""
            donor-2 < {ASKED}
            donor-2 > where do I send it?
            donor-2 < {ASKED}
            donor-2 > [photo: miss]
            donor-2 < Thank you. The second photo does not show the person given a meal nearby, so the order goes on.
            donor-2 < Meals near this person — choose one: [Curd rice]
        """)
        assert [e["outcome"] for e in await face_events(env)] == ["second_photo_asked", "goes_on"]


async def test_after_cancelling_the_second_photo_request_a_photo_starts_afresh(app_db: Path, tmp_path: Path) -> None:
    async with App(app_db, tmp_path) as env:
        await env["chat"].run(intake("donor-2", "band", 13.0828) + f"""
            donor-2 < {ASKED}
            donor-2 > [tap Cancel]
            donor-2 < …
            donor-2 > [photo: miss]
            donor-2 < Did the person agree to be photographed so they can receive a meal?
        """)
        async with env["runtime"].store.reader() as uow:
            order = await uow.orders.get(2)
        assert order is not None and order.status.value == "cancelled"


async def test_i_cant_take_another_goes_on_marked_for_review_and_is_counted(app_db: Path, tmp_path: Path) -> None:
    async with App(app_db, tmp_path) as env:
        await env["chat"].run(intake("donor-2", "band", 13.0828) + f"""
            donor-2 < {ASKED}
            donor-2 > [tap I can't take another]
            donor-2 < That is fine, thank you. The order goes on, and a cooperative admin will look at this check later.
            donor-2 < Meals near this person — choose one: [Curd rice]
            donor-2 > [press nophoto:2]
            donor-2 < That question has already been answered.
            donor-2 > /books
            donor-2 < Face check: 1 second photos asked, 0 confirmed; 1 orders went on marked for review.
        """)
        assert [e["outcome"] for e in await face_events(env)] == ["second_photo_asked", "no_second_photo"]
        async with env["runtime"].store.reader() as uow:
            order = await uow.orders.get(2)
        assert order is not None and order.status.value == "screened" and order.screening["review"] == "no_second_photo"
        figures = (await env["client"].get("/api/transparency")).json()["face_checks"]
        assert figures["asked"] == 1 and figures["no_second_photo"] == 1 and figures["for_review"] == 1
        page = (await env["client"].get("/transparency?lang=en")).text
        assert 'id="face-checks" data-asked="1" data-review="1"' in page


async def test_a_refused_donor_sure_it_is_someone_else_goes_on_marked_and_only_once(app_db: Path, tmp_path: Path) -> None:
    async with App(app_db, tmp_path) as env:
        chat = env["chat"]
        chat.photos["sure"] = chat.photos["stored"]  # the same face again: refused on one photo
        await chat.run(intake("donor-2", "sure", 13.0828) + """
            donor-2 < This person was given a meal 20 minutes ago, 11 m from here, so this order will not go ahead. [It's someone else]
        """)
        # Another donor forging the button of donor-2's refused order gets nowhere.
        assert (await chat.post("donor-1", json={"button": "notsame:2:busy_lit"})).status_code == 202
        await chat.drain()
        await chat.run("""
            donor-1 < That choice is no longer open. Send a new photo to start again.
            donor-2 > [tap It's someone else]
            donor-2 < Thank you for telling us. The order goes on, and a cooperative admin will look at this check.
            donor-2 < Meals near this person — choose one: [Curd rice]
            donor-2 > [press notsame:2:busy_lit]
            donor-2 < That question has already been answered.
            donor-2 > /books
            donor-2 < Face check: 0 second photos asked, 0 confirmed; 1 orders went on marked for review.
        """)
        events = await face_events(env)
        assert [(e["outcome"], e["contested_order"], e["duplicate_of_order"]) for e in events] == [("someone_else", 2, 1)]
        async with env["runtime"].store.reader() as uow:
            refused, new = await uow.orders.get(2), await uow.orders.get(3)
        assert refused is not None and refused.status.value == "rejected_duplicate"  # the record of what the check said
        assert new is not None and new.status.value == "screened"
        assert new.screening["review"] == "someone_else" and new.screening["contested_order"] == 2
        await assert_ledger_invariants(env["runtime"].store)


async def test_the_second_look_in_tamil(app_db: Path, tmp_path: Path) -> None:
    async with App(app_db, tmp_path) as env:
        chat = env["chat"]
        async with env["runtime"].store.uow() as uow:
            donor = await uow.people.get_or_create("webchat", "donor-2")
            await uow.people.set_language(donor.id, "ta")
        chat.photos["sure"] = chat.photos["stored"]
        await chat.run("""
            donor-2 > [photo: band]
            donor-2 < சாப்பாடு கொடுப்பதற்காகப் போட்டோ எடுக்க அந்த நபர் சம்மதித்தாரா? [ஆம், சம்மதித்தார்] [இல்லை]
            donor-2 > [press consent:yes]
            donor-2 < இப்போது அந்த நபர் இருக்கும் லொகேஷனை அனுப்புங்கள்
            donor-2 > [location 13.0828, 80.2707]
            donor-2 < அந்த இடம் இப்போது எப்படி இருக்கிறது? [கூட்டம், வெளிச்சம்]
            donor-2 > [press scene:busy_lit]
            donor-2 < இன்னொரு போட்டோ எடுத்து அனுப்ப முடியுமா? [இன்னொன்று முடியாது] [ரத்து செய்]
            donor-2 > [photo: band2]
            donor-2 < இந்த ஆர்டர் தொடராது. [இவர் வேறு நபர்]
            donor-2 > [tap இவர் வேறு நபர்]
            donor-2 < சொன்னதற்கு நன்றி. ஆர்டர் தொடர்கிறது
            donor-2 < இவர் அருகில் கிடைக்கும் சாப்பாடுகள்
            donor-2 > /books
            donor-2 < முக சரிபார்ப்பு: 1 முறை இன்னொரு போட்டோ கேட்டோம், 1 முறை அதே நபர் என்று உறுதியானது; 1 ஆர்டர்கள்
        """)
        for message in (await chat.fetch("donor-2")).seen:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text), f"English in a Tamil message: {text!r}"
        assert [e["outcome"] for e in await face_events(env)] == ["second_photo_asked", "duplicate", "someone_else"]
        page = (await env["client"].get("/transparency?lang=ta")).text
        assert "முக சரிபார்ப்பு" in page and 'data-asked="1" data-review="1"' in page
