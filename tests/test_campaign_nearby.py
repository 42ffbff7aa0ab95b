""""Campaign near you" and batched progress, on SQLite and PostgreSQL: opted-in people within the
governed radius hear of a new campaign once, never its creator, at most the daily cap; SMS
followers get one summary per interval, nothing twice, nothing lost when a flush rolls back."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from core.adapters.sql.db import Database
from core.campaigns import nearby
from core.campaigns.model import Campaign, Place
from core.ledger.model import DEPOSITS, donor_account, transfer
from core.members.model import Person
from core.privacy import export
from core.privacy.forget import forget
from core.seekers.photos import LocalPhotoStore
from flows.campaign_notify import BATCH_EVERY, flush_progress, tell_nearby
from tests.helpers import assert_ledger_invariants
from tests.test_campaigns import World, give, open_campaign, world

SEEKER = Place(13.0827, 80.2707)  # where open_campaign's seeker is
NEAR = Place(13.0900, 80.2750)  # about 900 m away
FAR = Place(13.1300, 80.2707)  # about 5.3 km away: outside the default 3 km


async def person(w: World, channel: str = "test", rupees: int = 500) -> Person:
    """Someone with a funded balance on a channel (an SMS number when channel is "sms")."""
    number = f"+9198{uuid.uuid4().int % 10**8:08d}"
    address = {"sms": number, "whatsapp": f"whatsapp:{number}"}.get(channel, f"p-{uuid.uuid4().hex[:8]}")
    async with w.store.uow() as uow:
        p = await uow.people.get_or_create(channel, address)
        await uow.ledger.record(transfer("deposit", f"seed-{p.id}", DEPOSITS, donor_account(p.id), rupees * 100))
    return p


async def opted_in(w: World, place: Place, channel: str = "test") -> Person:
    p = await person(w, channel)
    async with w.store.uow() as uow:
        assert await nearby.opt_in(uow, p.id, place) == place
    return p


async def texts(w: World, p: Person) -> list[str]:
    """Every message queued for a person, oldest first."""
    async with w.store.reader() as uow:
        return [str(payload["text"]) for _seq, payload in await uow.outbox.for_recipient(p.channel, p.address, 0)]


def near_you(messages: list[str]) -> list[str]:
    return [m for m in messages if m.startswith("A campaign near you")]


async def test_a_new_campaign_is_told_once_to_opted_in_people_within_the_radius_but_not_its_creator(db: Database) -> None:
    w = await world(db)
    near, far = await opted_in(w, NEAR), await opted_in(w, FAR)
    async with w.store.uow() as uow:
        await nearby.opt_in(uow, w.coop.donor.id, SEEKER)  # the creator opted in too, right there
    c = await open_campaign(w)
    told = near_you(await texts(w, near))
    assert len(told) == 1 and c.code in told[0] and "/give " + c.code in told[0]
    # Only the rough area: the seeker's exact place never goes out.
    assert "13.08, 80.27" in told[0] and "13.0827" not in told[0] and "80.2707" not in told[0]
    assert near_you(await texts(w, far)) == []
    assert near_you(await texts(w, w.coop.donor)) == []
    # The same campaign again (a redelivered event, a rerun): nobody is told twice.
    async with w.store.uow() as uow:
        again = await uow.campaigns.get(c.id)
        assert again is not None
        await tell_nearby(uow, again)
    assert len(near_you(await texts(w, near))) == 1


async def test_the_daily_cap_holds_under_many_campaigns_and_a_new_day_starts_again(db: Database) -> None:
    w = await world(db)
    near = await opted_in(w, NEAR)
    opened: list[Campaign] = [await open_campaign(w) for _ in range(6)]
    told = near_you(await texts(w, near))
    assert len(told) == 3  # the governed campaign_nearby_daily_cap
    assert [c.code for c in opened[:3]] == [next(c.code for c in opened if c.code in t) for t in told]
    w.clock.advance(days=1)
    await open_campaign(w)
    assert len(near_you(await texts(w, near))) == 4


async def test_opting_out_stops_the_messages_and_opting_in_twice_keeps_one_place(db: Database) -> None:
    w = await world(db)
    near = await opted_in(w, NEAR)
    async with w.store.uow() as uow:
        assert await nearby.opt_in(uow, near.id) == NEAR  # again, no place given: the one kept
        assert not await uow.campaigns.set_nearby(near.id, NEAR)  # not a second row
        assert await uow.campaigns.clear_nearby(near.id)
        assert not await uow.campaigns.clear_nearby(near.id)
    await open_campaign(w)
    assert near_you(await texts(w, near)) == []


async def test_a_person_with_no_known_place_is_not_opted_in(db: Database) -> None:
    w = await world(db)
    stranger = await person(w)
    async with w.store.uow() as uow:
        assert await nearby.opt_in(uow, stranger.id) is None
        assert await uow.campaigns.nearby_place(stranger.id) is None
        # The creator's own request gives them a place: where they last asked for a meal.
    await open_campaign(w)
    async with w.store.uow() as uow:
        assert await nearby.opt_in(uow, w.coop.donor.id) == SEEKER


def summaries(messages: list[str]) -> list[str]:
    return [m for m in messages if " new gift" in m]


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
async def test_sms_and_whatsapp_followers_get_one_summary_per_interval_and_milestones_at_once(db: Database, channel: str) -> None:
    w = await world(db)
    c = await open_campaign(w, tip=1_000)  # target ₹100
    sms = await person(w, channel)
    a, b = await person(w), await person(w)
    await give(w, c.id, sms, 10)
    assert summaries(await texts(w, sms)) == []
    await give(w, c.id, a, 10)
    await give(w, c.id, b, 20, anonymous=True)
    assert summaries(await texts(w, sms)) == []  # nothing per gift on SMS
    async with w.store.uow() as uow:
        assert await flush_progress(uow) == 1
    assert summaries(await texts(w, sms)) == [f"Campaign {c.code}: 2 new gifts (₹30). ₹40 of ₹100 raised; ₹60 to go."]
    async with w.store.uow() as uow:
        assert await flush_progress(uow) == 0  # a second run tells nothing again
    await give(w, c.id, a, 10)
    w.clock.advance(seconds=BATCH_EVERY.total_seconds() - 1)
    async with w.store.uow() as uow:
        assert await flush_progress(uow) == 0  # within the interval: waits
    w.clock.advance(seconds=1)
    async with w.store.uow() as uow:
        assert await flush_progress(uow) == 1
    assert summaries(await texts(w, sms))[-1] == f"Campaign {c.code}: 1 new gift (₹10). ₹50 of ₹100 raised; ₹50 to go."
    # The last gift meets the target: the SMS follower hears at once, without a flush.
    await give(w, c.id, b, 50)
    assert any(f"Campaign {c.code} reached its target!" in t for t in await texts(w, sms))
    w.clock.advance(seconds=BATCH_EVERY.total_seconds())
    async with w.store.uow() as uow:
        assert await flush_progress(uow) == 0  # the campaign is no longer collecting
    assert len(summaries(await texts(w, sms))) == 2
    await assert_ledger_invariants(w.store)


class Crash(Exception):
    """The process dies after the flush queued its messages, before its transaction commits."""


async def test_a_flush_that_never_commits_loses_nothing_and_the_next_one_tells_it_all(db: Database) -> None:
    w = await world(db)
    c = await open_campaign(w)
    sms = await person(w, "sms")
    await give(w, c.id, sms, 10)
    await give(w, c.id, await person(w), 10)
    with pytest.raises(Crash):
        async with w.store.uow() as uow:
            assert await flush_progress(uow) == 1
            raise Crash
    assert summaries(await texts(w, sms)) == []
    await give(w, c.id, await person(w), 15)
    async with w.store.uow() as uow:
        assert await flush_progress(uow) == 1
    assert summaries(await texts(w, sms)) == [f"Campaign {c.code}: 2 new gifts (₹25). ₹35 of ₹90 raised; ₹55 to go."]


async def test_mydata_shows_the_opt_in_and_forget_erases_it(db: Database, tmp_path: Path) -> None:
    w = await world(db)
    near = await opted_in(w, NEAR)
    await open_campaign(w)  # near is told of it: a notice row names them
    async with w.store.uow() as uow:
        document = await export.document(uow, near)
    data = document["data"]
    assert [(r["lat"], r["lng"]) for r in data["campaigns_near_you"]] == [(NEAR.lat, NEAR.lng)]
    assert [r["kind"] for r in data["campaign_notices"]] == [nearby.NEARBY]
    async with w.store.uow() as uow:
        await forget(uow, near, LocalPhotoStore(tmp_path / "photos", b"k" * 32), None)
    async with w.store.reader() as uow:
        assert await uow.campaigns.nearby_place(near.id) is None
        assert await uow.campaigns.notices_on(near.id, nearby.NEARBY, uow.day) == 0


async def test_the_near_you_message_fits_two_sms_segments_in_tamil(db: Database) -> None:
    """With its numbered options, as the SMS channel sends it (two segments is every SMS's budget)."""
    from bot.sms import render_sms
    from flows.messages import Outbound
    from tests.segments import segments

    w = await world(db)
    reader = await opted_in(w, NEAR, "sms")
    async with w.store.uow() as uow:
        await uow.people.set_language(reader.id, "ta")
    await open_campaign(w)
    async with w.store.reader() as uow:
        payloads = [p for _seq, p in await uow.outbox.for_recipient(reader.channel, reader.address, 0)]
    sent = [render_sms(Outbound.from_payload(p), "ta") for p in payloads]
    assert len(sent) == 1 and segments(sent[0])[1] <= 2, (segments(sent[0]), sent)


async def test_nearby_on_and_off_typed_in_tamil_and_tanglish(app_env: dict[str, Any]) -> None:
    """The words after /nearby (or its Tamil word அருகில்) as people type them: a clear yes or no."""
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run("""
        donor-1  > /balance
        donor-1  < Your balance
    """)
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        assert donor is not None
        await uow.people.set_language(donor.id, "ta")
    await chat.run("""
        donor-1  > அருகில் வேணாம்
        donor-1  < அருகிலுள்ள கூட்டுநிதிகள் பற்றி உங்களுக்குச் செய்தி வரவில்லை. தொடங்க “/nearby ஆம்” என்று அனுப்புங்கள்.
        donor-1  > /nearby ஆமாம்
        donor-1  < ஒரு லொகேஷனைப் பகிருங்கள் (நீங்கள் உதவ விரும்பும் பகுதி)
        donor-1  > [location 13.0900, 80.2750]
        donor-1  < சரி: அந்தப் பகுதியிலிருந்து 3000 மீ தூரத்துக்குள் கூட்டுநிதி தொடங்கினால் சொல்கிறேன்
        donor-1  > arugil venam
        donor-1  < சரி: அருகிலுள்ள கூட்டுநிதிகள் பற்றி இனி செய்தி வராது. மீண்டும் தெரிந்துகொள்ள “/nearby ஆம்” என்று அனுப்புங்கள்.
    """)
