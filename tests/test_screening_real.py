"""The real screener: duplicates in time and space, faces it cannot use, unsafe places, purging.

Most tests give the screener a stand-in embedder (fixed unit vectors per "person"), so they
test the screening rules and the database, not the face model; the last one runs the real
model on the public-domain astronaut photo."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from sqlalchemy import func, insert, select

from core.adapters.sql.db import Database
from core.adapters.sql.schema import orders, people
from core.adapters.sql.screening_repo import ScreeningRepo
from core.adapters.sql.screening_schema import seeker_embeddings
from core.adapters.sql.uow import Store
from core.seekers import faces, safety
from core.seekers.screener import FaceAndSafetyScreener
from core.seekers.screening import ScreeningRequest, ScreeningResult
from tests.clock import FixedClock
from tests.conftest import unavailable

NOON_IST = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
MIDNIGHT_IST = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
PLACE = (13.0827, 80.2707)  # Chennai
METRES_NORTH = 1 / 111_195  # degrees of latitude per metre (haversine's Earth radius)


def north(metres: float) -> tuple[float, float]:
    return PLACE[0] + metres * METRES_NORTH, PLACE[1]


def person_vector(seed: int) -> np.ndarray:
    return faces.normalise(np.random.default_rng(seed).normal(size=128))


class FakePhotos:
    """Photos whose bytes name what the stand-in embedder should see: b"person:3", b"many", b"none"."""

    def __init__(self) -> None:
        self.reads = 0

    async def get(self, photo_id: str) -> bytes | None:
        self.reads += 1
        return photo_id.encode()


async def fake_embed(data: bytes) -> faces.FaceResult:
    text = data.decode()
    if text.startswith("person:"):
        seed, _, jitter = text.removeprefix("person:").partition("~")
        v = person_vector(int(seed))
        if jitter:  # another photo of the same person: a little noise (cosine ≈ 0.98)
            v = faces.normalise(v + 0.2 * person_vector(1000 + int(jitter)))
        return faces.FaceResult(faces.FaceStatus.OK, v, 1)
    if text == "many":
        return faces.FaceResult(faces.FaceStatus.MANY, None, 3, 1.1)
    return faces.FaceResult(faces.FaceStatus.NONE)


class OwnTransaction:
    """The real screener, each screening in a unit of work of its own at the request's time
    (as start_order gives it the caller's); everything else passes through."""

    def __init__(self, db: Database, screener: OwnTransaction) -> None:
        self.db, self.inner = db, screener

    async def screen(self, request: ScreeningRequest) -> ScreeningResult:
        """Screen in a fresh unit of work on this database."""
        async with Store(self.db, FixedClock(request.at)).uow() as uow:
            return await self.inner.screen(uow, request)

    def prefetch(self, photo_id: str) -> None:
        """Start the embedding in the background."""
        self.inner.prefetch(photo_id)


def on(db: Database, photos: object, *args: object, **kwargs: object) -> OwnTransaction:
    """A real screener over `photos`, screening on `db`."""
    return OwnTransaction(db, FaceAndSafetyScreener(photos, *args, **kwargs))  # type: ignore[arg-type]


@pytest.fixture
def screener(sqlite_db: Database) -> OwnTransaction:
    return on(sqlite_db, FakePhotos(), embedder=fake_embed)


def request(photo: str, at: datetime = NOON_IST, where: tuple[float, float] = PLACE, **extra: object) -> ScreeningRequest:
    return ScreeningRequest(1, where[0], where[1], at, photo, **extra)  # type: ignore[arg-type]


async def embeddings(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(seeker_embeddings))).scalar_one())


async def purge_expired_embeddings(store: Store) -> int:
    """What the scheduled purge (core.schedule.jobs.purge_expired_data) does to embeddings."""
    async with store.uow() as uow:
        return await uow.screening.purge_expired(uow.at)


async def test_the_same_face_within_the_window_and_radius_is_a_duplicate_with_minutes_and_metres(
    screener: OwnTransaction, sqlite_db: Database
) -> None:
    first = await screener.screen(request("person:1"))
    assert first.verdict == "pass" and first.details["face"] == "ok" and first.method == "face+safety"
    again = await screener.screen(request("person:1~1", NOON_IST + timedelta(minutes=35), north(40)))
    assert again.verdict == "duplicate"
    assert again.details["minutes_ago"] == 35 and again.details["distance_m"] == 40
    assert again.details["similarity_bp"] >= 9_300
    assert await embeddings(sqlite_db) == 1  # a rejected duplicate stores nothing


async def test_the_same_face_after_the_window_passes(screener: OwnTransaction) -> None:
    assert (await screener.screen(request("person:1"))).verdict == "pass"
    later = await screener.screen(request("person:1~1", NOON_IST + timedelta(minutes=121)))
    assert later.verdict == "pass"


async def test_the_same_face_beyond_the_radius_passes(screener: OwnTransaction) -> None:
    assert (await screener.screen(request("person:1"))).verdict == "pass"
    assert (await screener.screen(request("person:1~1", NOON_IST + timedelta(minutes=5), north(150)))).verdict == "pass"
    assert (await screener.screen(request("person:1~2", NOON_IST + timedelta(minutes=6), north(90)))).verdict == "duplicate"


async def test_a_different_person_at_the_same_place_passes(screener: OwnTransaction) -> None:
    assert (await screener.screen(request("person:1"))).verdict == "pass"
    assert (await screener.screen(request("person:2", NOON_IST + timedelta(minutes=1)))).verdict == "pass"


async def test_a_photo_without_a_face_passes_flagged_low_confidence_and_stores_nothing(
    screener: OwnTransaction, sqlite_db: Database
) -> None:
    result = await screener.screen(request("none"))
    assert result.verdict == "pass"
    assert result.details["face"] == "none" and result.details["face_confidence"] == "low"
    assert await embeddings(sqlite_db) == 0


async def test_a_photo_of_several_people_asks_for_a_retake(screener: OwnTransaction) -> None:
    result = await screener.screen(request("many"))
    assert result.verdict == "retake" and result.details["reason"] == "many_faces"


async def test_without_the_face_model_the_request_passes_flagged_and_the_error_is_logged(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_data: bytes) -> faces.FaceResult:
        raise faces.FaceModelUnavailable("face model weights missing")

    screener = on(sqlite_db, FakePhotos(), embedder=broken)
    result = await screener.screen(request("person:1"))
    assert result.verdict == "pass" and result.details["face"] == "unavailable"
    assert result.details["face_confidence"] == "low"
    assert "duplicate check is skipped" in caplog.text


async def test_a_dark_place_with_unknown_answers_is_unsafe_with_reasons_and_the_assessment_is_kept(
    screener: OwnTransaction, sqlite_db: Database
) -> None:
    result = await screener.screen(request("person:3", MIDNIGHT_IST))
    assert result.verdict == "unsafe"
    assert result.details["reasons"] == ["dark", "busy_unknown", "lit_unknown"]
    assert result.details["safety_bp"] < result.details["threshold_bp"] == 6_500
    assert await embeddings(sqlite_db) == 0  # no meal, so no duplicate window
    busy_and_lit = await screener.screen(request("person:3", MIDNIGHT_IST, busy="yes", lit="yes"))
    assert busy_and_lit.verdict == "pass" and busy_and_lit.details["model_version"] == "rule-v1"


async def test_purging_deletes_embeddings_whose_window_has_passed(screener: OwnTransaction, sqlite_db: Database) -> None:
    await screener.screen(request("person:1"))
    await screener.screen(request("person:2", NOON_IST + timedelta(minutes=100)))
    clock = FixedClock(NOON_IST + timedelta(minutes=125))
    assert await purge_expired_embeddings(Store(sqlite_db, clock)) == 1
    assert await embeddings(sqlite_db) == 1
    clock.advance(minutes=100)
    assert await purge_expired_embeddings(Store(sqlite_db, clock)) == 1
    assert await embeddings(sqlite_db) == 0


async def test_screening_writes_in_the_callers_transaction_and_rolls_back_with_it(
    screener: OwnTransaction, sqlite_db: Database
) -> None:
    with pytest.raises(RuntimeError, match="caller failed"):
        async with sqlite_db.write():
            assert (await screener.screen(request("person:1"))).verdict == "pass"
            raise RuntimeError("caller failed")
    assert await embeddings(sqlite_db) == 0
    assert (await screener.screen(request("person:1~1", NOON_IST + timedelta(minutes=1)))).verdict == "pass"


async def add_order(db: Database, status: str) -> int:
    async with db.write() as conn:
        donor = insert(people).values(channel="test", address=f"d-{uuid.uuid4().hex[:8]}", created_at=NOON_IST.isoformat())
        person = await conn.execute(donor)
        result = await conn.execute(insert(orders).values(
            donor_id=person.inserted_primary_key[0], status=status, version=1, seeker_lat=PLACE[0],
            seeker_lng=PLACE[1], zone="tf3", created_at=NOON_IST.isoformat(), updated_at=NOON_IST.isoformat(),
        ))  # fmt: skip
        return int(result.inserted_primary_key[0])


async def test_a_seeker_whose_earlier_order_was_cancelled_is_not_a_duplicate(
    screener: OwnTransaction, sqlite_db: Database
) -> None:
    cancelled, live = await add_order(sqlite_db, "draft"), await add_order(sqlite_db, "draft")
    assert (await screener.screen(request("person:1", order_id=cancelled))).verdict == "pass"
    assert (await screener.screen(request("person:2", order_id=live))).verdict == "pass"
    async with sqlite_db.write() as conn:
        await conn.execute(orders.update().where(orders.c.id == cancelled).values(status="cancelled"))
    later = NOON_IST + timedelta(minutes=10)
    assert (await screener.screen(request("person:1~1", later))).verdict == "pass"
    duplicate = await screener.screen(request("person:2~1", later))
    assert duplicate.verdict == "duplicate" and duplicate.details["duplicate_of_order"] == live
    async with sqlite_db.read() as conn:
        stored = await ScreeningRepo(conn).assessments(live)
    assert stored[0]["model_version"] == "rule-v1" and stored[0]["features"]["hour"] == 12


async def test_past_failed_deliveries_nearby_lower_the_safety_score(screener: OwnTransaction, sqlite_db: Database) -> None:
    clean = await screener.screen(request("none", busy="no"))
    for _ in range(3):
        await add_order(sqlite_db, "delivery_failed")
    marked = await screener.screen(request("none", busy="no"))
    assert marked.details["safety_bp"] < clean.details["safety_bp"]
    assert marked.verdict == "unsafe" and "past_failures" in marked.details["reasons"]


async def test_a_prefetched_embedding_is_used_instead_of_computing_again(sqlite_db: Database) -> None:
    photos = FakePhotos()
    calls: list[bytes] = []

    async def counting_embed(data: bytes) -> faces.FaceResult:
        calls.append(data)
        return await fake_embed(data)

    screener = on(sqlite_db, photos, embedder=counting_embed)
    screener.prefetch("person:4")
    screener.prefetch("person:4")
    assert (await screener.screen(request("person:4"))).verdict == "pass"
    assert calls == [b"person:4"] and photos.reads == 1


async def test_a_plain_screening_request_and_a_trained_model_work_too(sqlite_db: Database, tmp_path: Path) -> None:
    model = safety.load_or_train(tmp_path)
    screener = on(sqlite_db, FakePhotos(), model, embedder=fake_embed)
    result = await screener.screen(ScreeningRequest(1, PLACE[0], PLACE[1], NOON_IST, "person:5"))
    assert result.verdict == "pass" and result.details["model_version"] == model.version
    assert result.as_dict()["verdict"] == "pass" and "embedding" not in result.as_dict()


# --- with the real face model ----------------------------------------------------------------

FACES_DIR = Path(os.environ.get("KETPAAR_FACES_DIR") or Path(__file__).resolve().parents[2] / "shared" / "faces")


class BytesPhotos:
    def __init__(self, photos: dict[str, bytes]) -> None:
        self.photos = photos

    async def get(self, photo_id: str) -> bytes | None:
        return self.photos.get(photo_id)


def jpeg(img: Image.Image, transform: Callable[[Image.Image], Image.Image] = lambda i: i) -> bytes:
    out = io.BytesIO()
    transform(img).save(out, "JPEG", quality=80)
    return out.getvalue()


async def test_a_mirrored_recompressed_photo_of_the_same_person_is_caught_by_the_real_model(
    sqlite_db: Database, face_model: None
) -> None:
    if not (FACES_DIR / "other" / "astronaut.png").is_file():
        unavailable("face photos", f"{FACES_DIR} is absent (set KETPAAR_FACES_DIR)")
    src = Image.open(FACES_DIR / "other" / "astronaut.png").convert("RGB")
    photos = BytesPhotos({"first": jpeg(src), "second": jpeg(src, ImageOps.mirror)})
    screener = on(sqlite_db, photos)
    assert (await screener.screen(request("first"))).verdict == "pass"
    result = await screener.screen(request("second", NOON_IST + timedelta(minutes=20), north(25)))
    assert result.verdict == "duplicate" and result.details["minutes_ago"] == 20


# --- on PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
async def test_on_postgresql_two_donors_screening_the_same_seeker_at_once_get_one_pass_and_one_duplicate(
    pg_fresh_url: str,
) -> None:
    import asyncio

    db = Database(pg_fresh_url)
    try:
        screener = on(db, FakePhotos(), embedder=fake_embed)

        async def donor(photo: str, where: tuple[float, float]) -> str:
            async with db.write():  # each donor's own unit of work
                result = await screener.screen(request(photo, NOON_IST, where))
                await asyncio.sleep(0.2)  # the rest of the caller's transaction
                return result.verdict

        verdicts = await asyncio.gather(donor("person:7", PLACE), donor("person:7~1", north(30)))
        assert sorted(verdicts) == ["duplicate", "pass"]
        assert (await screener.screen(request("person:7~2", NOON_IST + timedelta(minutes=121)))).verdict == "pass"
        assert (await screener.screen(request("person:7~3", NOON_IST + timedelta(minutes=122), north(150)))).verdict == "pass"
        assert await purge_expired_embeddings(Store(db, FixedClock(NOON_IST + timedelta(minutes=121)))) == 1
        assert await embeddings(db) == 2
    finally:
        await db.dispose()
