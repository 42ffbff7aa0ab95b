"""The whole meal in Tamil for every role: every message the bot sends must be Tamil."""

from __future__ import annotations

import re
from typing import Any

from core.schedule.jobs import settle_due
from tests.helpers import assert_ledger_invariants

USERS = ("donor-1", "rest-1", "rest-2", "worker-1", "worker-2", "worker-3", "admin")

MEAL_BY_PAYLOAD = """
    donor-1  > /start
    donor-1  < மொழியைத் தேர்ந்தெடுக்கவும் · Choose your language [தமிழ்] [English]
    donor-1  > [press lang:ta]
    donor-1  < நீங்கள் என்ன செய்ய விரும்புகிறீர்கள்? [சாப்பாடு வாங்கித் தர] [ஹோட்டல் நடத்துகிறேன்] [டெலிவரி செய்கிறேன்]
    donor-1  > [photo]
    donor-1  < போட்டோ எடுக்க அந்த நபர் சம்மதித்தாரா? [ஆம், சம்மதித்தார்] [இல்லை]
    donor-1  > [press consent:yes]
    donor-1  < இப்போது அந்த நபர் இருக்கும் லொகேஷனை அனுப்புங்கள்
    donor-1  > [location 13.0827, 80.2707]
    donor-1  < அந்த இடம் இப்போது எப்படி இருக்கிறது? [கூட்டம், வெளிச்சம்] [தெரியவில்லை]
    donor-1  > [press scene:busy_lit]
    donor-1  < இவர் அருகில் கிடைக்கும் சாப்பாடுகள் [Lemon rice ₹55] [ரத்து செய்]
    donor-1  > [press meal:]
    donor-1  < டெலிவரி பணியாளருக்கு டிப்ஸ் சேர்க்க விரும்புகிறீர்களா? [டிப்ஸ் வேண்டாம்] [டிப்ஸ் ₹10] [டிப்ஸ் ₹20]
    donor-1  > [press tip:]
    donor-1  < சாப்பாடு ₹55 + டெலிவரி ₹30 + டிப்ஸ் ₹0 = ₹85 [₹85 செலுத்து] [ரத்து செய்]
    donor-1  > [press pay:]
    donor-1  < ₹85 செலுத்தப்பட்டது. Lemon rice – ஆர்டர் #1 இப்போது Annapoorna Mess ஹோட்டலிடம் உள்ளது. [ஆர்டரை ரத்து செய்]
    rest-1   < புதிய ஆர்டர் #1: 13.08, 80.27 அருகே உள்ள ஒருவருக்கு Lemon rice (₹55). [ஏற்கிறேன்] [முடியாது]
    rest-1   > [press accept:]
    rest-1   < ஆர்டர் #1 ஏற்கப்பட்டது: Lemon rice. [ரெடி]
    donor-1  < Annapoorna Mess ஆர்டர் #1-ஐ ஏற்றுக்கொண்டு சமைக்கிறது.
    worker-1 < புதிய வேலை #1: பிக்கப் Annapoorna Mess [நான் எடுக்கிறேன்]
    worker-2 < புதிய வேலை #1: பிக்கப் Annapoorna Mess [நான் எடுக்கிறேன்]
    worker-3 < புதிய வேலை #1: பிக்கப் Annapoorna Mess [நான் எடுக்கிறேன்]
    worker-1 > [press claim:]
    worker-1 < வேலை #1 உங்களுக்கு. பிக்கப்: Lemon rice, Annapoorna Mess [பிக்கப் செய்தேன்] [photo]
    donor-1  < ஆர்டர் #1-ஐ Murugan டெலிவரி செய்வார்.
    rest-1   < ஆர்டர் #1-ஐ Murugan டெலிவரி செய்வார்.
    worker-2 > [press claim:]
    worker-2 < வேலை #1: இந்த முறை Murugan முந்திக்கொண்டு எடுத்துவிட்டார்.
    worker-1 > [press pickup:]
    worker-1 < ஆர்டர் #1-ஐ பிக்கப் செய்தீர்கள். [கொடுத்துவிட்டேன்]
    donor-1  < ஆர்டர் #1 பிக்கப் ஆனது, இப்போது வழியில் உள்ளது.
    worker-1 > [press delivered:]
    worker-1 < நபரிடம் கொடுத்த சாப்பாட்டின் போட்டோவை அனுப்புங்கள்.
    worker-1 > [photo]
    worker-1 < இப்போது உங்கள் லொகேஷனை அனுப்புங்கள்
    worker-1 > [location 13.0829, 80.2709]
    worker-1 < ஆர்டர் #1 டெலிவரி ஆனது. நன்றி! உங்களுக்கு ₹24 (₹24 டெலிவரி + ₹0 டிப்ஸ்) மதியம் 12:30-க்கு வரும். [பிரச்சனை இல்லை]
    donor-1  < ஆர்டர் #1 டெலிவரி ஆனது. இன்று ஒருவரின் பசியாற்றியதற்கு நன்றி! [photo]
    rest-1   < ஆர்டர் #1 டெலிவரி ஆனது. ₹55 உங்களுக்கு மதியம் 12:30-க்கு வரவு வைக்கப்படும்.
    worker-1 > /balance
    worker-1 < உங்கள் பேலன்ஸ்: ₹0
    donor-1  > /orders
    donor-1  < #1 Lemon rice ₹85: டெலிவரி ஆனது
    donor-1  > /help
    donor-1  < கேட்பார் பசித்தவர்களுக்குச் சாப்பாடு தருகிறது.
    donor-1  > something odd
    donor-1  < மன்னிக்கவும், எனக்குப் புரியவில்லை.
"""

# What may stay in Latin letters inside a Tamil message: names and data entered by people,
# amounts, ids, commands, coordinates.
ALLOWED = re.compile(
    r"Annapoorna Mess|Saravana Kitchen|Murugan|Lakshmi|Karthik|Demo donor|Veg biryani|Curd rice|Sambar rice|"
    r"Lemon rice|Idli and sambar \(4\)|12 Wall Tax Road, Park Town|4 Poonamallee High Road, Periamet|"
    r"Choose your language|English|Location|/[a-z]+|#\d+|₹[\d,.]+|\d+(\.\d+)?\s?(km|m)\b|[\d.,\s]+"
)


def latin_left(text: str) -> list[str]:
    """Latin-letter words left after removing what may legitimately stay untranslated."""
    return re.findall(r"[A-Za-z]{2,}", ALLOWED.sub(" ", text))


async def test_every_message_of_the_meal_is_tamil_for_tamil_speakers(app_env: dict[str, Any]) -> None:
    runtime = app_env["runtime"]
    async with runtime.store.uow() as uow:
        for address in USERS:
            person = await uow.people.find("webchat", address)
            await uow.people.set_language(person.id, "ta")
    chat = app_env["chat"]
    await chat.run(MEAL_BY_PAYLOAD)
    app_env["clock"].advance(minutes=30)  # the dispute window passes and the scheduler settles
    assert await settle_due(runtime.store) == 1
    await chat.run("""
        rest-1   < ஆர்டர் #1: ₹55 இப்போது உங்களுக்கு வரவு வைக்கப்பட்டது.
        worker-1 < வேலை #1: ₹24 இப்போது உங்கள் வருமானத்தில் சேர்ந்தது.
    """)
    for user in USERS:
        box = await chat.fetch(user)  # everything was matched by the run; `seen` keeps it for this check
        for message in box.seen:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text), f"{user} got English: {text!r}"
    delivered = [m for m in (await chat.fetch("donor-1")).seen if m["image_url"]]
    assert delivered, "the donor received the delivery photo"
    await assert_ledger_invariants(runtime.store)


# The same meal with every answer typed in Tanglish (a phone without a Tamil keyboard): the donor,
# the restaurant and the workers never press a button.
MEAL_TYPED_IN_TANGLISH = """
    donor-1  > vanakkam
    donor-1  < நீங்கள் என்ன செய்ய விரும்புகிறீர்கள்? [சாப்பாடு வாங்கித் தர] [ஹோட்டல் நடத்துகிறேன்] [டெலிவரி செய்கிறேன்]
    donor-1  > [photo]
    donor-1  < போட்டோ எடுக்க அந்த நபர் சம்மதித்தாரா? [ஆம், சம்மதித்தார்] [இல்லை]
    donor-1  > aama
    donor-1  < இப்போது அந்த நபர் இருக்கும் லொகேஷனை அனுப்புங்கள்
    donor-1  > [location 13.0827, 80.2707]
    donor-1  < அந்த இடம் இப்போது எப்படி இருக்கிறது? [கூட்டம், வெளிச்சம்] [தெரியவில்லை]
    donor-1  > ok?
    donor-1  < மன்னிக்கவும், எனக்குப் புரியவில்லை. இந்த எண்ணில் ஒன்றை அனுப்பலாம்: 1 கூட்டம், வெளிச்சம்
    donor-1  > onnu
    donor-1  < இவர் அருகில் கிடைக்கும் சாப்பாடுகள் [Lemon rice ₹55] [ரத்து செய்]
    donor-1  > lemon rice
    donor-1  < டெலிவரி பணியாளருக்கு டிப்ஸ் சேர்க்க விரும்புகிறீர்களா? [டிப்ஸ் வேண்டாம்] [டிப்ஸ் ₹10] [டிப்ஸ் ₹20]
    donor-1  > venaam
    donor-1  < சாப்பாடு ₹55 + டெலிவரி ₹30 + டிப்ஸ் ₹0 = ₹85 [₹85 செலுத்து] [ரத்து செய்]
    donor-1  > seri
    donor-1  < ₹85 செலுத்தப்பட்டது. Lemon rice – ஆர்டர் #1 இப்போது Annapoorna Mess ஹோட்டலிடம் உள்ளது. [ஆர்டரை ரத்து செய்]
    rest-1   < புதிய ஆர்டர் #1: 13.08, 80.27 அருகே உள்ள ஒருவருக்கு Lemon rice (₹55). [ஏற்கிறேன்] [முடியாது]
    rest-1   > accept
    rest-1   < ஆர்டர் #1 ஏற்கப்பட்டது: Lemon rice. [ரெடி]
    donor-1  < Annapoorna Mess ஆர்டர் #1-ஐ ஏற்றுக்கொண்டு சமைக்கிறது.
    worker-1 < புதிய வேலை #1: பிக்கப் Annapoorna Mess [நான் எடுக்கிறேன்]
    worker-2 < புதிய வேலை #1: பிக்கப் Annapoorna Mess [நான் எடுக்கிறேன்]
    worker-3 < புதிய வேலை #1: பிக்கப் Annapoorna Mess [நான் எடுக்கிறேன்]
    rest-1   > redi
    rest-1   < ஆர்டர் #1 ரெடி என்று பதிவானது. நன்றி!
    worker-1 > naan edukkiren
    worker-1 < வேலை #1 உங்களுக்கு. பிக்கப்: Lemon rice, Annapoorna Mess [பிக்கப் செய்தேன்] [photo]
    donor-1  < ஆர்டர் #1-ஐ Murugan டெலிவரி செய்வார்.
    rest-1   < ஆர்டர் #1-ஐ Murugan டெலிவரி செய்வார்.
    worker-2 > ok
    worker-2 < வேலை #1: இந்த முறை Murugan முந்திக்கொண்டு எடுத்துவிட்டார்.
    worker-1 > pickup aachu
    worker-1 < ஆர்டர் #1-ஐ பிக்கப் செய்தீர்கள். [கொடுத்துவிட்டேன்]
    donor-1  < ஆர்டர் #1 பிக்கப் ஆனது, இப்போது வழியில் உள்ளது.
    worker-1 > koduthuten
    worker-1 < நபரிடம் கொடுத்த சாப்பாட்டின் போட்டோவை அனுப்புங்கள்.
    worker-1 > [photo]
    worker-1 < இப்போது உங்கள் லொகேஷனை அனுப்புங்கள்
    worker-1 > [location 13.0829, 80.2709]
    worker-1 < ஆர்டர் #1 டெலிவரி ஆனது. நன்றி! உங்களுக்கு ₹24 (₹24 டெலிவரி + ₹0 டிப்ஸ்) மதியம் 12:30-க்கு வரும். [பிரச்சனை இல்லை]
    donor-1  < ஆர்டர் #1 டெலிவரி ஆனது. இன்று ஒருவரின் பசியாற்றியதற்கு நன்றி! [photo]
    rest-1   < ஆர்டர் #1 டெலிவரி ஆனது. ₹55 உங்களுக்கு மதியம் 12:30-க்கு வரவு வைக்கப்படும்.
    worker-1 > seringa
    worker-1 < நன்றி!
    worker-1 > balence
    worker-1 < உங்கள் பேலன்ஸ்: ₹0
    donor-1  > /ஆர்டர்கள்
    donor-1  < #1 Lemon rice ₹85: டெலிவரி ஆனது
    donor-1  > udhavi
    donor-1  < கேட்பார் பசித்தவர்களுக்குச் சாப்பாடு தருகிறது.
"""


async def test_the_meal_typed_in_tanglish_by_donor_restaurant_and_workers(app_env: dict[str, Any]) -> None:
    runtime = app_env["runtime"]
    async with runtime.store.uow() as uow:
        for address in USERS:
            person = await uow.people.find("webchat", address)
            await uow.people.set_language(person.id, "ta")
    await app_env["chat"].run(MEAL_TYPED_IN_TANGLISH)
    async with runtime.store.reader() as uow:
        order = await uow.orders.get(1)
    assert order is not None and order.status.value == "delivered" and order.tip == 0
    await assert_ledger_invariants(runtime.store)
