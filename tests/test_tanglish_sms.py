"""The meal with every answer typed in Tanglish, the restaurant and the workers on SMS (basic
phones, Tamil replies, no buttons, no Tamil keyboard) and the donor on the web chat (a seeker's
photo cannot travel by SMS), through the real Twilio SDK against the local fake."""

from __future__ import annotations

from pathlib import Path

from core.schedule.jobs import settle_due
from tests.channel_chat import RecordingTwilio, channel_app, users_on
from tests.helpers import assert_ledger_invariants

MEAL_BY_SMS_IN_TANGLISH = """
    donor-1  > [photo]
    donor-1  < போட்டோ எடுக்க அந்த நபர் சம்மதித்தாரா?
    donor-1  > aamanga
    donor-1  < இப்போது அந்த நபர் இருக்கும் லொகேஷனை அனுப்புங்கள்
    donor-1  > [location 13.0827, 80.2707]
    donor-1  < அந்த இடம் இப்போது எப்படி இருக்கிறது?
    donor-1  > onnu
    donor-1  < இவர் அருகில் கிடைக்கும் சாப்பாடுகள்
    donor-1  > lemon rice
    donor-1  < டெலிவரி பணியாளருக்கு டிப்ஸ் சேர்க்க விரும்புகிறீர்களா?
    donor-1  > rendu
    donor-1  < சாப்பாடு ₹55 + டெலிவரி ₹30 + டிப்ஸ் ₹10 = ₹95
    donor-1  > ok?
    donor-1  < மன்னிக்கவும், எனக்குப் புரியவில்லை. இந்த எண்ணில் ஒன்றை அனுப்பலாம்: 1 ₹95 செலுத்து · 2 ரத்து செய்
    donor-1  > seri
    donor-1  < ₹95 செலுத்தப்பட்டது.
    rest-1   < புதிய ஆர்டர் #1: 13.08, 80.27 அருகே உள்ள ஒருவருக்கு Lemon rice (₹55). சமைத்துத் தர முடியுமா?
    rest-1   > hi
    rest-1   < வணக்கம்! இந்த எண்ணில் ஒன்றை அனுப்பலாம்: 1 ஏற்கிறேன் · 2 முடியாது
    rest-1   > accept
    rest-1   < ஆர்டர் #1 ஏற்கப்பட்டது: Lemon rice. டெலிவரி பணியாளர் வருவார். பேக் ஆனதும் “ரெடி” அனுப்புங்கள்.
    donor-1  < Annapoorna Mess ஆர்டர் #1-ஐ ஏற்றுக்கொண்டு சமைக்கிறது.
    worker-1 < புதிய வேலை #1: பிக்கப் Annapoorna Mess (12 Wall Tax Road, Park Town), டிராப் 13.08, 80.27 அருகே. ₹34.
    worker-2 < புதிய வேலை #1: பிக்கப் Annapoorna Mess
    worker-3 < புதிய வேலை #1: பிக்கப் Annapoorna Mess
    worker-1 > edukkiren
    worker-1 < வேலை #1 உங்களுக்கு. பிக்கப்: Lemon rice, Annapoorna Mess (12 Wall Tax Road, Park Town). டிராப்: 13.08270, 80.27070.
    donor-1  < ஆர்டர் #1-ஐ Murugan டெலிவரி செய்வார்.
    rest-1   < ஆர்டர் #1-ஐ Murugan டெலிவரி செய்வார்.
    worker-2 > 1
    worker-2 < வேலை #1: இந்த முறை Murugan முந்திக்கொண்டு எடுத்துவிட்டார்.
    rest-1   > ready aachu
    rest-1   < ஆர்டர் #1 ரெடி என்று பதிவானது. நன்றி!
    worker-1 < ஆர்டர் #1 பேக் ஆகி பிக்கப்புக்கு ரெடியாக உள்ளது.
    worker-1 > pickup panniten
    donor-1  < ஆர்டர் #1 பிக்கப் ஆனது, இப்போது வழியில் உள்ளது.
    worker-1 < ஆர்டர் #1 பிக்கப் ஆனது. சாப்பாட்டைக் கொடுத்ததும் “கொடுத்துவிட்டேன்” அனுப்புங்கள்.
    worker-1 > kuduthutten
    worker-1 < உங்கள் லொகேஷனை எண்களாக அனுப்புங்கள், எ.கா. 13.0827, 80.2707.
    worker-1 > [location 13.0829, 80.2709]
    worker-1 < ஆர்டர் #1 டெலிவரி ஆனது, நன்றி! உங்களுக்கு ₹34
    donor-1  < ஆர்டர் #1 டெலிவரி ஆனது. இன்று ஒருவரின் பசியாற்றியதற்கு நன்றி!
    rest-1   < ஆர்டர் #1 டெலிவரி ஆனது. ₹55 உங்களுக்கு மதியம் 12:30-க்கு வரவு வைக்கப்படும்.
    worker-1 > sari
    worker-1 < நன்றி!
    worker-1 > balence
    worker-1 < உங்கள் பேலன்ஸ்: ₹0
"""


async def test_a_meal_typed_only_in_tanglish_with_restaurant_and_workers_on_sms(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"donor-1": "webchat", "*": "sms"})
    twilio = RecordingTwilio().start()
    try:
        async with channel_app(app_db, tmp_path / "var", users, twilio=twilio) as env:
            runtime = env["runtime"]
            async with runtime.store.uow() as uow:
                for user in users.values():
                    person = await uow.people.find(user.channel, user.address)
                    await uow.people.set_language(person.id, "ta")
            await env["chat"].run(MEAL_BY_SMS_IN_TANGLISH)
            env["clock"].advance(minutes=30)  # the dispute window passes; the scheduler settles
            assert await settle_due(runtime.store) == 1
            await env["chat"].settle()
            await env["chat"].run("""
                rest-1   < ஆர்டர் #1: ₹55 இப்போது உங்களுக்கு வரவு வைக்கப்பட்டது.
                worker-1 < வேலை #1: ₹34 இப்போது உங்கள் வருமானத்தில் சேர்ந்தது.
            """)
            async with runtime.store.reader() as uow:
                order = await uow.orders.get(1)
            assert order is not None and order.status.value == "settled" and order.tip == 1_000
            await assert_ledger_invariants(runtime.store)
    finally:
        twilio.stop()
