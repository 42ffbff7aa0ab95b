"""/campaigns, /nearby and campaign progress on every channel, as transcripts in English and Tamil:
the creator on the web chat, donor-2 on SMS (progress batched), donor-3 on Telegram (one progress
message, edited on each gift; a new one when the old was deleted), a "campaign near you" message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.campaigns import service as campaigns
from core.orders import service as orders
from core.seekers.screening import PassThroughScreener
from flows.campaign_notify import flush_progress
from tests.helpers import assert_ledger_invariants
from tests.test_campaign_transcripts import START, campaign_app, code_of
from tests.test_tamil_transcript import latin_left

LIST_AND_GIVE = {
    "en": """
        donor-1  > /campaigns
        donor-1  < {code}: Veg biryani near 13.08, 80.27. ₹0 of ₹120 from 0 givers; 120 minutes left. [Give {code}]
        donor-3  > /campaigns
        donor-3  < No campaign is open for you or near you right now. Start one with /campaign, or send /nearby on to hear when
        donor-3  > /nearby on
        donor-3  < Share a location (the area where you would like to help) and I will tell you when a campaign opens near it.
        donor-3  > [location 13.0900, 80.2750]
        donor-3  < Done: when a campaign opens within 3000 m of that area I will tell you (at most 3 a day). Send /nearby off to stop.
        donor-3  > nearby on
        donor-3  < You already hear of new campaigns near you. Send /nearby off to stop.
        donor-3  > /campaigns ';DROP TABLE campaigns;-- 🍛
        donor-3  < {code}: Veg biryani near 13.08, 80.27. ₹0 of ₹120 from 0 givers; 120 minutes left. [Give {code}]
        donor-3  > [tap Give {code}]
        donor-3  < How much would you like to give to campaign {code}? Tap an amount or send: /give {code} <rupees> [₹10] [₹50] [₹120]
        donor-3  > [tap ₹50]
        donor-3  < Give ₹50 to campaign {code} for Veg biryani near 13.08, 80.27? [Give, show my name] [Give anonymously] [Don't give]
        donor-3  > [tap Give anonymously]
        donor-3  < Thank you! ₹50 given to campaign {code}. ₹50 of ₹120 raised; ₹70 to go.
        donor-1  < Campaign {code}: Someone gave ₹50. ₹50 of ₹120 raised.
        donor-2  > campaigns
        donor-2  < No campaign is open for you or near you right now.
        donor-2  > give {code} 20
        donor-2  < Give ₹20 to campaign {code}
        donor-2  > [tap Give, show my name]
        donor-2  < Thank you! ₹20 given to campaign {code}. ₹70 of ₹120 raised; ₹50 to go. [Campaigns near me]
        donor-3  < Campaign {code}: Priya gave ₹20. ₹70 of ₹120 raised.
        donor-1  < Campaign {code}: Priya gave ₹20. ₹70 of ₹120 raised.
        donor-2  > /campaigns
        donor-2  < {code}: Veg biryani near 13.08, 80.27. ₹70 of ₹120 from 2 givers; 120 minutes left. [Give {code}]
        donor-1  > /give {code} 10
        donor-1  < Give ₹10 to campaign {code}
        donor-1  > [tap Give, show my name]
        donor-1  < Thank you! ₹10 given to campaign {code}. ₹80 of ₹120 raised; ₹40 to go. [Campaigns near me]
    """,
    "ta": """
        donor-1  > கூட்டுநிதிகள்
        donor-1  < {code}: 13.08, 80.27 அருகே Veg biryani. ₹120-இல் ₹0 சேர்ந்தது (0 பேர்); இன்னும் 120 நிமிடம். [கொடு {code}]
        donor-3  > கூட்டுநிதிகள்
        donor-3  < இப்போது உங்களுடைய அல்லது உங்கள் அருகில் நடக்கும் கூட்டுநிதி எதுவும் இல்லை.
        donor-3  > அருகில் ஆம்
        donor-3  < ஒரு லொகேஷனைப் பகிருங்கள் (நீங்கள் உதவ விரும்பும் பகுதி)
        donor-3  > [location 13.0900, 80.2750]
        donor-3  < சரி: அந்தப் பகுதியிலிருந்து 3000 மீ தூரத்துக்குள் கூட்டுநிதி தொடங்கினால் சொல்கிறேன் (ஒரு நாளைக்கு அதிகபட்சம் 3).
        donor-3  > /nearby on
        donor-3  < அருகிலுள்ள புதிய கூட்டுநிதிகள் பற்றி ஏற்கனவே உங்களுக்குச் செய்தி வருகிறது.
        donor-3  > கூட்டுநிதிகள் ஏதாவது 🍛
        donor-3  < {code}: 13.08, 80.27 அருகே Veg biryani. ₹120-இல் ₹0 சேர்ந்தது (0 பேர்); இன்னும் 120 நிமிடம். [கொடு {code}]
        donor-3  > [tap கொடு {code}]
        donor-3  < கூட்டுநிதி {code}-க்கு எவ்வளவு கொடுக்க விரும்புகிறீர்கள்? [₹10] [₹50] [₹120]
        donor-3  > [tap ₹50]
        donor-3  < கூட்டுநிதி {code}-க்கு ₹50 கொடுக்கவா?
        donor-3  > [tap பெயரின்றி கொடு]
        donor-3  < நன்றி! கூட்டுநிதி {code}-க்கு ₹50 கொடுத்தீர்கள்.
        donor-1  < கூட்டுநிதி {code}: ஒருவர் ₹50 கொடுத்தார்.
        donor-2  > கூட்டுநிதிகள்
        donor-2  < இப்போது நடக்கும் கூட்டுநிதி இல்லை.
        donor-2  > கொடு {code} 20
        donor-2  < கூட்டுநிதி {code}-க்கு ₹20 கொடுக்கவா?
        donor-2  > 1
        donor-2  < நன்றி! {code}-க்கு ₹20. ₹120-இல் ₹70; மீதம் ₹50.
        donor-3  < கூட்டுநிதி {code}: Priya ₹20 கொடுத்தார். ₹120-இல் ₹70
        donor-1  < கூட்டுநிதி {code}: Priya ₹20 கொடுத்தார். ₹120-இல் ₹70
        donor-2  > கூட்டுநிதிகள்
        donor-2  < ₹120-இல் ₹70 சேர்ந்தது (2 பேர்); இன்னும் 120 நிமிடம்.
        donor-1  > கொடு {code} 10
        donor-1  < கூட்டுநிதி {code}-க்கு ₹10 கொடுக்கவா?
        donor-1  > [tap கொடு, என் பெயருடன்]
        donor-1  < நன்றி! கூட்டுநிதி {code}-க்கு ₹10 கொடுத்தீர்கள். [அருகில் கூட்டுநிதி]
    """,
}

# donor-1 gives ₹10 again; donor-3 deleted the progress message meanwhile: a new one comes.
AFTER_DELETE = {
    "en": "donor-3  < Campaign {code}: Demo donor gave ₹10. ₹90 of ₹120 raised.",
    "ta": "donor-3  < கூட்டுநிதி {code}: Demo donor ₹10 கொடுத்தார். ₹120-இல் ₹90 சேர்ந்தது.",
}
SMS_SUMMARY = {
    "en": "donor-2  < Campaign {code}: 2 new gifts (₹20). ₹90 of ₹120 raised; ₹30 to go.",
    "ta": "donor-2  < {code}: 2 புதிய கொடை (₹20). ₹120-இல் ₹90; மீதம் ₹30.",
}
NEAR_YOU = {
    "en": """
        donor-3  < A campaign near you: Curd rice for someone near 13.08, 80.27, ₹90 needed by 2:00 pm. [Give {code}] [Stop these messages]
        donor-3  > [tap Stop these messages]
        donor-3  < Done: no more messages about campaigns near you. Send /nearby on to hear of them again.
        donor-3  > /nearby off
        donor-3  < You were not getting messages about campaigns near you. Send /nearby on to start.
    """,
    "ta": """
        donor-3  < உங்கள் அருகில் ஒரு கூட்டுநிதி: 13.08, 80.27 அருகே ஒருவருக்கு Curd rice [கொடு {code}] [இவை வேண்டாம்]
        donor-3  > [tap இவை வேண்டாம்]
        donor-3  < சரி: அருகிலுள்ள கூட்டுநிதிகள் பற்றி இனி செய்தி வராது.
        donor-3  > அருகில் வேண்டாம்
        donor-3  < அருகிலுள்ள கூட்டுநிதிகள் பற்றி உங்களுக்குச் செய்தி வரவில்லை.
    """,
}


async def all_tamil(env: dict[str, Any], codes: tuple[str, ...]) -> None:
    """Every message and button the donors saw is Tamil, but for the campaign codes, names, meals, commands."""
    for name in ("donor-1", "donor-2", "donor-3"):
        for seen in (await env["chat"].fetch(name)).seen:
            for text in [seen.text, *(b.label for b in seen.buttons)]:
                text = re.sub(r"https?://\S+", " ", text)  # the progress page's link
                for code in codes:
                    text = text.replace(code, " ")
                left = latin_left(text.replace("Rs.", "₹").replace("Priya", " ").replace("Demo donor", " "))
                assert not left, f"{name} got English: {text!r}"


def _telegram_texts(env: dict[str, Any], chat_id: str) -> list[tuple[int, str]]:
    """(message id, text) of every message delivered to a Telegram chat."""
    return [(int(c.result["message_id"]), str(c.params.get("text"))) for c in env["telegram"].delivered()
            if str(c.params.get("chat_id")) == chat_id and c.method == "sendMessage"]  # fmt: skip


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_campaigns_list_nearby_and_progress_on_every_channel(tmp_path: Path, app_db: Path, language: str) -> None:
    async with campaign_app(tmp_path, app_db, language) as env:
        await _run(env, language)


async def _run(env: dict[str, Any], language: str) -> None:
    chat, store, telegram = env["chat"], env["runtime"].store, env["chat"].telegram
    env["telegram"] = telegram
    await chat.run(START[language])
    code = await code_of(env)
    await chat.run(LIST_AND_GIVE[language].replace("{code}", code))
    # Telegram: donor-3's one progress message was edited to the new figures, not sent again.
    tg = chat.user("donor-3").address
    progress = [(i, t) for i, t in _telegram_texts(env, tg) if "Priya" in t]
    assert len(progress) == 1
    message_id = progress[0][0]
    assert "₹80" in telegram.edits[(tg, message_id)] and "Demo donor" in telegram.edits[(tg, message_id)]
    # donor-3 deletes that message: the next gift's edit fails, and a new message takes its place.
    telegram.deleted.add((tg, message_id))
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        assert donor is not None
        await campaigns.give(uow, 1, donor, 1_000, anonymous=False, key="again")
    await chat.settle()
    await chat.run(AFTER_DELETE[language].replace("{code}", code))
    # SMS: the gifts since donor-2's own, in one summary, once.
    async with store.uow() as uow:
        assert await flush_progress(uow) == 1
    await chat.settle()
    await chat.run(SMS_SUMMARY[language].replace("{code}", code))
    async with store.uow() as uow:
        assert await flush_progress(uow) == 0
    # A second campaign starts near donor-3's place: donor-3 hears of it once (the creator does not).
    async with store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        assert donor is not None
        order = await orders.start_order(uow, donor, 13.0827, 80.2707, None, PassThroughScreener())
        options = await orders.meal_options(uow, 13.0827, 80.2707)
        second = await campaigns.start(uow, donor, order.id, next(o.item_id for o in options if o.item_name == "Curd rice"), 0)
    await chat.settle()
    await chat.run(NEAR_YOU[language].replace("{code}", second.code))
    if language == "ta":
        await all_tamil(env, (code, second.code))
    await assert_ledger_invariants(store)


FORGED = ("giveask:99999", "giveamt:1:-500", "giveamt:1:99999999", "giveamt:1:500", "nearby:sideways", "nearby:on:abc")
HOSTILE = {
    "en": """
        worker-2 < That button is no longer active. Send /help to see what you can do.
        worker-2 < That button is no longer active. Send /help to see what you can do.
        worker-2 < Campaign {code} needs only ₹120 more. Please give at most that.
        worker-2 < The least you can give is ₹10.
        worker-2 < That button is no longer active. Send /help to see what you can do.
        worker-2 < Share a location (the area where you would like to help)
        worker-2 > /nearby perhaps
        worker-2 < Would you like a short message when someone starts a campaign near you? [Campaigns near me]
        worker-2 > /nearby off
        worker-2 < You were not getting messages about campaigns near you. Send /nearby on to start.
    """,
    "ta": """
        worker-2 < அந்தப் பட்டன் இப்போது வேலை செய்யாது.
        worker-2 < அந்தப் பட்டன் இப்போது வேலை செய்யாது.
        worker-2 < கூட்டுநிதி {code}-க்கு இன்னும் ₹120 மட்டுமே தேவை.
        worker-2 < குறைந்தது ₹10 கொடுக்க வேண்டும்.
        worker-2 < அந்தப் பட்டன் இப்போது வேலை செய்யாது.
        worker-2 < ஒரு லொகேஷனைப் பகிருங்கள்
        worker-2 > அருகில் சரியா
        worker-2 < உங்கள் அருகில் யாராவது கூட்டுநிதி தொடங்கும்போது ஒரு சிறு செய்தி வேண்டுமா? [அருகில் கூட்டுநிதி]
        worker-2 > அருகில் வேண்டாம்
        worker-2 < அருகிலுள்ள கூட்டுநிதிகள் பற்றி உங்களுக்குச் செய்தி வரவில்லை.
    """,
}


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_forged_campaign_buttons_and_odd_nearby_words_get_polite_answers_and_change_nothing(
    language: str, app_env: dict[str, Any]
) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    async with store.uow() as uow:
        for address in ("donor-1", "worker-2"):
            await uow.people.set_language((await uow.people.find("webchat", address)).id, language)
    await chat.run(START[language])
    async with store.reader() as uow:
        code = (await uow.campaigns.get(1)).code  # type: ignore[union-attr]
    for payload in FORGED:  # buttons nobody was shown, typed into the web chat's API
        await chat.post("worker-2", json={"button": payload})
    await chat.drain()
    await chat.run(HOSTILE[language].replace("{code}", code))
    async with store.reader() as uow:
        assert (await uow.campaigns.get(1)).raised == 0  # type: ignore[union-attr]
        worker = await uow.people.find("webchat", "worker-2")
        assert worker is not None and await uow.campaigns.nearby_place(worker.id) is None
