"""Governance and ratings in Tamil: a worker raises the daily minimum to ₹600 with the Tamil words for the
commands, two members second it, members vote (a button, a typed ஆம், a number), it passes and the
next top-up uses ₹600; a rating and an upheld appeal; every message anyone receives is Tamil."""

from __future__ import annotations

from pathlib import Path

from core.ledger.model import DEPOSITS, POOL, transfer
from core.schedule.jobs import close_proposals, end_of_day_topup
from tests.conftest import running_app
from tests.helpers import Coop, assert_ledger_invariants
from tests.test_tamil_transcript import latin_left
from tests.test_topup import deliver_meal

USERS = ("donor-1", "rest-1", "rest-2", "worker-1", "worker-2", "worker-3")
CHANGE = "டெலிவரி பணியாளர் தினசரி குறைந்தபட்சம்: ₹500-இலிருந்து ₹600 ஆக"
REASON = "எரிபொருள் விலை ஏறிவிட்டது"
SECOND = f"முன்மொழிவு #1 (Murugan): {CHANGE}. காரணம்: {REASON}. 2 உறுப்பினர்கள் வழிமொழிந்ததும் ஓட்டெடுப்பு தொடங்கும். [வழிமொழிகிறேன்]"
VOTE = f"முன்மொழிவு #1-க்கு ஓட்டுப் போடுங்கள்: {CHANGE}. காரணம்: {REASON}. ஓட்டெடுப்பு 26 நவ., 2026, நண்பகல் 12:00-க்கு முடியும்."
VOTED = "முன்மொழிவு #1-க்கு உங்கள் ஓட்டு பதிவானது"
PASSED = ("முன்மொழிவு #1 நிறைவேறியது: டெலிவரி பணியாளர் தினசரி குறைந்தபட்சம்: ₹600. 26 நவ., 2026, நண்பகல் 12:00 முதல் அமலில் உள்ளது. "
          "5 உறுப்பினர்களில் ஆம் 2, இல்லை 1, நடுநிலை 0.")  # fmt: skip

TRANSCRIPT = f"""
    donor-1  > முன்மொழி
    donor-1  < கூட்டுறவு உறுப்பினர்கள் மட்டுமே இதைச் செய்ய முடியும். உறுப்பினராக /join அனுப்புங்கள்.
    donor-1  > உறுப்பினர்கள்
    donor-1  < உறுப்பினர்கள்: 5 (2 ஹோட்டல்கள், 3 டெலிவரி பணியாளர்கள், 0 கொடையாளர்கள்).
    worker-1 > முன்மொழி
    worker-1 < எந்த விதி மாற வேண்டும்? அதன் எண்ணை அனுப்புங்கள் (நிறுத்த /cancel):
    worker-1 > ௩
    worker-1 < டெலிவரி பணியாளர் தினசரி குறைந்தபட்சம் – புதிய மதிப்பு (இப்போது ₹500), ரூபாயில்:
    worker-1 > -600
    worker-1 < அந்த மதிப்பு புரியவில்லை. மீண்டும் அனுப்புங்கள், அல்லது /cancel.
    worker-1 > 600
    worker-1 < ஏன்? உங்கள் காரணத்தை ஒரே மெசேஜில் எழுதுங்கள் (500 எழுத்துகள் வரை).
    worker-1 > {REASON}
    worker-1 < முன்மொழிவு #1 பதிவானது: {CHANGE}. வேறு 2 உறுப்பினர்கள் வழிமொழிந்ததும் ஓட்டெடுப்பு தொடங்கும்.
    rest-1   < {SECOND}
    rest-2   < {SECOND}
    worker-2 < {SECOND}
    worker-3 < {SECOND}
    worker-2 > [tap வழிமொழிகிறேன்]
    worker-2 < முன்மொழிவு #1-ஐ வழிமொழிந்தீர்கள்.
    rest-1   > [tap வழிமொழிகிறேன்]
    rest-1   < முன்மொழிவு #1-ஐ வழிமொழிந்தீர்கள்.
    rest-1   < {VOTE} [ஆம்] [இல்லை] [நடுநிலை]
    rest-2   < {VOTE} [ஆம்] [இல்லை] [நடுநிலை]
    worker-1 < {VOTE} [ஆம்] [இல்லை] [நடுநிலை]
    worker-2 < {VOTE} [ஆம்] [இல்லை] [நடுநிலை]
    worker-3 < {VOTE} [ஆம்] [இல்லை] [நடுநிலை]
    worker-2 > ஆம்
    worker-2 < {VOTED}: ஆம். 26 நவ., 2026, நண்பகல் 12:00 வரை மாற்றலாம். ஓட்டுகள் பெயருடன் கணக்கில் பதிவாகும்.
    worker-3 > 1
    worker-3 < {VOTED}: ஆம்.
    rest-2   > [tap இல்லை]
    rest-2   < {VOTED}: இல்லை.
    rest-2   > முன்மொழிவுகள்
    rest-2   < #1 டெலிவரி பணியாளர் தினசரி குறைந்தபட்சம்: ₹600 — 26 நவ., 2026, நண்பகல் 12:00 வரை ஓட்டெடுப்பு; உங்கள் ஓட்டு: இல்லை
"""

CLOSED = f"""
    rest-1   < {PASSED}
    rest-2   < {PASSED}
    worker-1 < {PASSED}
    worker-2 < {PASSED}
    worker-3 < {PASSED}
    worker-3 > [tap இல்லை]
    worker-3 < அந்த முன்மொழிவுக்கான ஓட்டெடுப்பு முடிந்துவிட்டது.
    donor-1  > விதிகள்
    donor-1  <* டெலிவரி பணியாளர் தினசரி குறைந்தபட்சம்: ₹600 (முன்மொழிவு #1)
"""


async def test_a_worker_raises_the_daily_minimum_in_tamil_and_every_message_is_tamil(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"proposal_seconds": 2}) as env:
        chat, store = env["chat"], env["runtime"].store
        async with store.uow() as uow:
            for address in USERS:
                person = await uow.people.find("webchat", address)
                await uow.people.set_language(person.id, "ta")
            worker1 = await uow.workers.by_person((await uow.people.find("webchat", "worker-1")).id)
            rest1 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-1")).id)
            donor = await uow.people.find("webchat", "donor-1")
            admin = await uow.people.find("webchat", "admin")
        await chat.run(TRANSCRIPT)
        env["clock"].advance(hours=72)
        assert await close_proposals(store) == {"passed": 1}
        await chat.run(CLOSED)

        # That day worker-1 carries one meal (₹24 earned); the pool has money; the night's top-up uses ₹600.
        await deliver_meal(store, Coop(admin, donor, [rest1], [worker1]), worker1)
        async with store.uow() as uow:
            await uow.ledger.record(transfer("deposit", "pool-gift-ta", DEPOSITS, POOL, 100_000), "admin")
        assert await end_of_day_topup(store, "2026-11-26") == {worker1.id: 60_000 - 2_400}
        topped = [m["text"] for m in (await chat.fetch("worker-1")).unread if "உத்தரவாத நிதியிலிருந்து ₹576" in m["text"]]
        assert len(topped) == 1, "worker-1 is told of the ₹576 top-up (after the meal's own messages)"

        for user in USERS:
            box = await chat.fetch(user)
            box.unread.clear()  # the meal's messages: not this test's point, but they are checked below too
            for message in box.seen:
                for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                    assert not latin_left(text), f"{user} got English: {text!r}"
        await assert_ledger_invariants(store)


RATED_TA = """
    donor-1  > மதிப்பீடு 1
    donor-1  < ஆர்டர் #1: சாப்பாடு எப்படி இருந்தது? ஒரு தட்டு: 1 (மோசம்) முதல் 5 (மிக நன்று) வரை. [1/5] [2/5] [3/5] [4/5] [5/5]
    donor-1  > [tap 2/5]
    donor-1  < நன்றி: ஆர்டர் #1 – சாப்பாடு: 2/5.
    donor-1  < கருத்து எழுதலாம் (280 எழுத்து வரை) [தவிர்]
    donor-1  > ரொம்ப காரம், பெரியவருக்குச் சாப்பிட முடியவில்லை
    donor-1  < மதிப்பீடு #1-க்கு உங்கள் கருத்து பதிவானது.
    donor-1  < ஆர்டர் #1: டெலிவரி எப்படி இருந்தது?
    donor-1  > [tap 5/5]
    donor-1  < நன்றி: ஆர்டர் #1 – டெலிவரி: 5/5.
    donor-1  < கருத்து எழுதலாம் [தவிர்]
    donor-1  > தவிர்
    donor-1  < சரி, கருத்து இல்லை.
    rest-1   > மதிப்பீடுகள்
    rest-1   < உங்கள் மதிப்பீடு: 1 மதிப்பீடுகளில் சராசரி 2.0/5.
    rest-1   > [press rappeal:1]
    rest-1   < மதிப்பீடு #1 ஏன் கணக்கில் வரக்கூடாது? ஒரே மெசேஜில், 500 எழுத்துகள் வரை.
    rest-1   > காரமான சாப்பாட்டை அவரே தேர்ந்தெடுத்தார்
    rest-1   < மேல்முறையீடு பதிவானது. இந்த ஆர்டரில் சம்பந்தமில்லாத ஒரு அட்மின் முடிவு செய்வார்.
    admin    < மதிப்பீடு #1 மேல்முறையீடு: #1 சாப்பாடு 2/5. ஹோட்டல் காரணம்: காரமான [நீக்கு] [தொடரட்டும்]
    admin    > [tap நீக்கு]
    admin    < முடிவு: மதிப்பீடு #1 நீக்கப்பட்டது.
    rest-1   < மதிப்பீடு #1 (#1 சாப்பாடு) மேல்முறையீட்டில் நீக்கப்பட்டது; இனி கணக்கில் இல்லை.
    donor-1  < மதிப்பீடு #1 (#1 சாப்பாடு) மேல்முறையீட்டில் நீக்கப்பட்டது
    rest-1   > மதிப்பீடுகள்
    rest-1   < இன்னும் மதிப்பீடு எதுவும் இல்லை.
"""


async def test_a_rating_and_an_upheld_appeal_in_tamil(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var") as env:
        chat, store = env["chat"], env["runtime"].store
        async with store.uow() as uow:
            for address in (*USERS, "admin"):
                person = await uow.people.find("webchat", address)
                await uow.people.set_language(person.id, "ta")
            worker1 = await uow.workers.by_person((await uow.people.find("webchat", "worker-1")).id)
            rest1 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-1")).id)
            donor = await uow.people.find("webchat", "donor-1")
            admin = await uow.people.find("webchat", "admin")
        await deliver_meal(store, Coop(admin, donor, [rest1], [worker1]), worker1)  # settled
        for user in (*USERS, "admin"):
            (await chat.fetch(user)).unread.clear()  # the meal's own messages (checked in test_tamil_transcript)
        await chat.run(RATED_TA)
        for user in (*USERS, "admin"):
            for message in (await chat.fetch(user)).seen:
                for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                    assert not latin_left(text), f"{user} got English: {text!r}"
