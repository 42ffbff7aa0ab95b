"""Pledges by chat in Tamil: the same story as tests/test_pledge_transcripts.py — a location+time
pledge feeds a lunch-time meal nearby and not one 5 km away, the daily word to the pledger, an
auto-renewal — and every message the Tamil speakers get is Tamil."""

from __future__ import annotations

from typing import Any

from core.schedule.jobs import renew_pledges, tell_pledgers
from tests.helpers import assert_ledger_invariants
from tests.test_pledge_transcripts import FAR, NEAR, PLACE
from tests.test_tamil_transcript import latin_left

PLEDGE_TA = f"""
    donor-1  > நன்கொடை
    donor-1  < மற்றவர்களின் சாப்பாட்டுக்காக முன்கூட்டியே எவ்வளவு நன்கொடை தர விரும்புகிறீர்கள்? ₹10 முதல் ₹1,00,000 வரை
    donor-1  > ₹9
    donor-1  < குறைந்தபட்ச நன்கொடை ₹10. அதிகமான தொகையை அனுப்புங்கள்.
    donor-1  > ₹10,00,00,000
    donor-1  < ஒரு நன்கொடை அதிகபட்சம் ₹1,00,000 தான்.
    donor-1  > ஐநூறு
    donor-1  < தொகையை ரூபாயில் எண்ணாக அனுப்புங்கள், உதாரணம் 500.
    donor-1  > ௫௦௦
    donor-1  < உங்கள் ₹500 எந்தச் சாப்பாடுகளுக்குச் செலுத்தலாம்? [யாருக்கும், எங்கும்] [ஒரு இடத்தின் அருகே] [சில நேரங்களில்] [இடமும் நேரமும்]
    donor-1  > [tap இடமும் நேரமும்]
    donor-1  < உங்கள் நன்கொடை எந்த இடத்துக்கு என்று லொகேஷனைப் பகிருங்கள்
    donor-1  > [location {PLACE}]
    donor-1  < அந்த இடத்தைச் சுற்றி எவ்வளவு தூரம் வரை? [500 மீ] [1 கி.மீ] [3 கி.மீ]
    donor-1  > [tap 1 கி.மீ]
    donor-1  < எந்த நேரத்தில்? [காலை 7–10] [மதியம் 11–15] [இரவு 19–22]
    donor-1  > [tap மதியம்]
    donor-1  < ஒவ்வொரு மாதமும் உங்கள் பேலன்ஸிலிருந்து புதுப்பிக்கவா? [ஒவ்வொரு மாதமும்] [ஒரு முறை மட்டும்]
    donor-1  > [tap ஒரு முறை மட்டும்]
    donor-1  < ₹500 நன்கொடை (உங்கள் இடத்திலிருந்து 1 கி.மீ தூரத்துக்குள் · 11:00–15:00 மட்டும் · ஒரு முறை). உங்கள் பேலன்ஸ்: ₹1,000.
    donor-1  > [press pledgeok]
    donor-1  < நன்றி! நன்கொடை #1-இல் மற்றவர்களின் சாப்பாட்டுக்காக ₹500 உள்ளது.
    donor-1  > [press pledgeok]
    donor-1  < அந்தக் கேள்விக்கு ஏற்கனவே பதில் அளிக்கப்பட்டுவிட்டது.
"""


def ask_ta(user: str, where: str) -> str:
    """A Tamil-speaking requester with no balance asks for a meal at a place, up to the price."""
    return f"""
    {user}   > /start
    {user}   < மொழியைத் தேர்ந்தெடுக்கவும் · Choose your language [தமிழ்] [English]
    {user}   > [press lang:ta]
    {user}   < நீங்கள் என்ன செய்ய விரும்புகிறீர்கள்?
    {user}   > [photo]
    {user}   < புகைப்படம் எடுக்க அந்த நபர் சம்மதித்தாரா?
    {user}   > [press consent:yes]
    {user}   < இப்போது அந்த நபர் இருக்கும் இடத்தைப் பகிருங்கள்
    {user}   > [location {where}]
    {user}   < அந்த இடம் இப்போது எப்படி இருக்கிறது?
    {user}   > [press scene:busy_lit]
    {user}   < இவர் அருகில் கிடைக்கும் சாப்பாடுகள்
    {user}   > [press meal:]
    {user}   < டெலிவரி பணியாளருக்கு டிப்ஸ் சேர்க்க விரும்புகிறீர்களா?
    {user}   > [press tip:]
"""


async def test_pledges_in_tamil_near_not_far_digest_and_renewal(app_env: dict[str, Any]) -> None:
    chat, runtime, clock = app_env["chat"], app_env["runtime"], app_env["clock"]
    async with runtime.store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        await uow.people.set_language(donor.id, "ta")
    await chat.run(PLEDGE_TA)
    await chat.run(ask_ta("asker-1", NEAR) + """
    asker-1  < மற்றவர்களின் நன்கொடைகள் இதில் ₹85 செலுத்த முடியும். [₹85 செலுத்து] [நன்கொடை பயன்படுத்து] [ரத்து செய்]
    asker-1  > [tap நன்கொடை பயன்படுத்து]
    asker-1  < ₹85 செலுத்தப்பட்டது. Lemon rice – ஆர்டர் #1 இப்போது Annapoorna Mess உணவகத்திடம் உள்ளது.
    rest-1   < New order #1: Lemon rice (₹55) for a person near 13.11, 80.27.
    """)
    await chat.run(ask_ta("asker-2", FAR) + """
    asker-2  < சாப்பாடு ₹50 + டெலிவரி ₹30 + டிப்ஸ் ₹0 = ₹80 [₹80 செலுத்து] [ரத்து செய்]
    asker-2  > [press pay:]
    asker-2  < உங்கள் இருப்பு ₹0; ₹80 செலுத்த இது போதாது.
    """)
    await tell_pledgers(runtime.store)
    await chat.run("""
    donor-1  < இன்று 13.11, 80.27 அருகே உங்கள் நன்கொடை #1 செலுத்திய சாப்பாடுகள்: 1 (₹85). இன்னும் ₹415 மீதம்.
    donor-1  > நன்கொடைகள்
    donor-1  < 23 நவ., 2026: 13.11, 80.27 அருகே ₹85 [ரத்து செய் #1] [நிறுத்திவை #1]
    donor-1  > [tap ரத்து செய் #1]
    donor-1  < நன்கொடை #1 ரத்து செய்யப்பட்டது; ₹415 உங்கள் பேலன்ஸில் திரும்ப வந்தது.
    donor-1  > /pledge 400
    donor-1  < உங்கள் ₹400 எந்தச் சாப்பாடுகளுக்குச் செலுத்தலாம்?
    donor-1  > [press pkind:general]
    donor-1  < ஒவ்வொரு மாதமும் உங்கள் பேலன்ஸிலிருந்து புதுப்பிக்கவா?
    donor-1  > [press prenew:1]
    donor-1  < ₹400 நன்கொடை (யாருக்கும், எங்கும் · மாதந்தோறும் புதுப்பிக்கப்படும்). உங்கள் பேலன்ஸ்: ₹915.
    donor-1  > [press pledgeok]
    donor-1  < நன்றி! நன்கொடை #2-இல் மற்றவர்களின் சாப்பாட்டுக்காக ₹400 உள்ளது.
    """)
    # Now, and then out of the cast: their web-chat sessions (30 days) lapse when the clock jumps months.
    await all_tamil(chat, "asker-1", "asker-2")
    for asker in ("asker-1", "asker-2"):
        chat.appeared.pop(asker)
    clock.advance(days=30)
    assert await renew_pledges(runtime.store) == {2: True}
    await chat.run("""
    donor-1  < நன்கொடை #2 உங்கள் பேலன்ஸிலிருந்து ₹400 கொண்டு புதுப்பிக்கப்பட்டது; இப்போது அதில் ₹800 உள்ளது.
    """)
    clock.advance(days=31)
    assert await renew_pledges(runtime.store) == {2: False}
    await chat.run("""
    donor-1  < நன்கொடை #2-ஐப் புதுப்பிக்க முடியவில்லை: உங்கள் பேலன்ஸில் ₹400 இல்லை [மீண்டும் தொடங்கு #2]
    """)
    await all_tamil(chat, "donor-1")
    await assert_ledger_invariants(runtime.store)


async def all_tamil(chat: Any, *users: str) -> None:
    """Every message and button these users got is Tamil (names, amounts and commands aside)."""
    for user in users:
        for message in (await chat.fetch(user)).seen:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text) or "Choose your language" in text, f"{user} got English: {text!r}"
