"""Campaigns by chat, as transcripts: three donors (one anonymous on Telegram, one on SMS) meet
the target and the meal is delivered; a campaign that expires refunds everyone; hostile gifts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from core.campaigns.model import campaign_account
from core.ledger.model import donor_account, escrow_account
from core.ledger.service import record_deposit
from core.schedule.jobs import expire_campaigns, settle_due
from flows.campaign_notify import flush_progress
from tests.channel_chat import RecordingTwilio, User, address_for, channel_app, users_on
from tests.fake_telegram import FakeTelegram
from tests.helpers import assert_ledger_invariants
from tests.test_tamil_transcript import latin_left

# The creator (donor-1, web chat) starts it; donor-2 gives by SMS, donor-3 on Telegram.
GIVERS = {"donor-2": ("sms", "Priya"), "donor-3": ("telegram", "Kumar")}

START = {
    "en": """
        donor-1  > /campaign
        donor-1  < Let's feed someone together. Send a photo of the person who needs a meal, then their location.
        donor-1  > [photo]
        donor-1  < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
        donor-1  > [tap Yes, they agreed]
        donor-1  < Thank you. Now share the location where the person is
        donor-1  > [location 13.0827, 80.2707]
        donor-1  < What is the place like right now? [Busy and well lit]
        donor-1  > [tap Busy and well lit]
        donor-1  < Meals near this person [Lemon rice] [Curd rice] [Sambar rice] [Idli and sambar] [Veg biryani] [Cancel]
        donor-1  > [tap Veg biryani]
        donor-1  < Would you like to add a tip for the delivery worker? [No tip] [Tip ₹10] [Tip ₹20]
        donor-1  > [tap Tip ₹10]
        donor-1  < Meal ₹80 + delivery ₹30 + tip ₹10 = ₹120 [Start a campaign] [Pay ₹120] [Cancel]
        donor-1  > [tap Start a campaign]
        donor-1  < is open: Veg biryani for ₹120. If the target is not met by 2:00 pm, everyone gets their money back.
        donor-1  < Anyone can give by sending: /give [Cancel campaign]
        # (the message ends with the progress page's link, http://test/c/<code>)
    """,
    "ta": """
        donor-1  > கூட்டுநிதி
        donor-1  < சேர்ந்து ஒருவருக்குச் சாப்பாடு தருவோம்.
        donor-1  > [photo]
        donor-1  < [ஆம், சம்மதித்தார்] [இல்லை]
        donor-1  > [tap ஆம், சம்மதித்தார்]
        donor-1  < …
        donor-1  > [location 13.0827, 80.2707]
        donor-1  < …
        donor-1  > [press scene:busy_lit]
        donor-1  < …
        donor-1  > [press meal:1:4]
        donor-1  < …
        donor-1  > [press tip:1:4:1000]
        donor-1  < ₹120 [கூட்டுநிதி தொடங்கு]
        donor-1  > [tap கூட்டுநிதி தொடங்கு]
        donor-1  < தொடங்கியது: Veg biryani, இலக்கு ₹120.
        donor-1  < /give [நிதியை நிறுத்து]
    """,
}


def met(code: str) -> dict[str, str]:
    """The three gifts that meet the target, in each language (SMS shows ₹ as Rs.)."""
    return {
        "en": f"""
        donor-1  > /give {code} 50
        donor-1  < Give ₹50 to campaign {code} for Veg biryani near 13.08, 80.27? [Give, show my name] [Give anonymously] [Don't give]
        donor-1  > [tap Give, show my name]
        donor-1  < Thank you! ₹50 given to campaign {code}. ₹50 of ₹120 raised; ₹70 to go.
        donor-3  > /give {code.lower()} 40
        donor-3  < Give ₹40 to campaign {code}
        donor-3  > [tap Give anonymously]
        donor-3  < Thank you! ₹40 given to campaign {code}. ₹90 of ₹120 raised; ₹30 to go.
        donor-1  < Campaign {code}: Someone gave ₹40. ₹90 of ₹120 raised.
        donor-2  > give {code} 30
        donor-2  < Give ₹30 to campaign {code}
        donor-2  > [tap Give, show my name]
        donor-2  < Thank you! Your ₹30 completed campaign {code}: the meal is ordered.
        rest-2   < New order #1: Veg biryani (₹80) for a person near 13.08, 80.27. Can you cook it? [Accept] [Reject]
        donor-1  < Campaign {code} reached its target! Order #1 for Veg biryani is placed
        donor-3  < Campaign {code} reached its target! Order #1 for Veg biryani is placed
        """,
        "ta": f"""
        donor-1  > கொடு {code} 50
        donor-1  < கூட்டுநிதி {code}-க்கு ₹50 கொடுக்கவா?
        donor-1  > [tap கொடு, என் பெயருடன்]
        donor-1  < நன்றி! கூட்டுநிதி {code}-க்கு ₹50 கொடுத்தீர்கள். ₹120-இல் ₹50 சேர்ந்தது; இன்னும் ₹70 தேவை.
        donor-3  > கொடு {code} 40
        donor-3  < கூட்டுநிதி {code}-க்கு ₹40 கொடுக்கவா?
        donor-3  > [tap பெயரின்றி கொடு]
        donor-3  < நன்றி! கூட்டுநிதி {code}-க்கு ₹40 கொடுத்தீர்கள். ₹120-இல் ₹90 சேர்ந்தது; இன்னும் ₹30 தேவை.
        donor-1  < கூட்டுநிதி {code}: ஒருவர் ₹40 கொடுத்தார். ₹120-இல் ₹90 சேர்ந்தது.
        donor-2  > கொடு {code} 30
        donor-2  < கூட்டுநிதி {code}-க்கு ₹30 கொடுக்கவா?
        donor-2  > 1
        donor-2  < நன்றி! உங்கள் ₹30-ஆல் கூட்டுநிதி {code} இலக்கை எட்டியது
        rest-2   < New order #1: Veg biryani (₹80) for a person near 13.08, 80.27. Can you cook it? [Accept] [Reject]
        donor-1  < கூட்டுநிதி {code} இலக்கை எட்டியது! ஆர்டர் #1
        donor-3  < கூட்டுநிதி {code} இலக்கை எட்டியது! ஆர்டர் #1
        """,
    }


DELIVERY = {
    "en": """
        rest-2   > [tap Accept]
        rest-2   < Accepted order #1
        donor-1  < Saravana Kitchen accepted order #1 and is cooking.
        worker-1 < New job #1 [Claim]
        worker-2 < New job #1 [Claim]
        worker-3 < New job #1 [Claim]
        worker-1 > [tap Claim]
        worker-1 < Job #1 is yours. [Picked up]
        donor-1  < Murugan will deliver order #1.
        rest-2   < Murugan will deliver order #1.
        worker-1 > [tap Picked up]
        donor-1  < Order #1 was picked up and is on its way.
        worker-1 < Picked up order #1. [Delivered]
        worker-1 > [tap Delivered]
        worker-1 < Send a photo of the delivered meal.
        worker-1 > [photo]
        worker-1 < Thank you. Now share your location
        worker-1 > [location 13.0829, 80.2709]
        worker-1 < Delivered order #1.
        donor-1  < Order #1 was delivered. Thank you for feeding someone today! [photo]
        rest-2   < Order #1 was delivered.
        donor-3  < The meal of campaign {code} was delivered. Thank you for giving!
        donor-2  < The meal of campaign {code} was delivered. Thank you for giving!
    """,
    "ta": """
        rest-2   > [tap Accept]
        rest-2   < Accepted order #1
        donor-1  < ஆர்டர் #1
        worker-1 < New job #1 [Claim]
        worker-2 < New job #1 [Claim]
        worker-3 < New job #1 [Claim]
        worker-1 > [tap Claim]
        worker-1 < Job #1 is yours. [Picked up]
        donor-1  < Murugan
        rest-2   < Murugan will deliver order #1.
        worker-1 > [tap Picked up]
        donor-1  < ஆர்டர் #1
        worker-1 < Picked up order #1. [Delivered]
        worker-1 > [tap Delivered]
        worker-1 < Send a photo of the delivered meal.
        worker-1 > [photo]
        worker-1 < Thank you. Now share your location
        worker-1 > [location 13.0829, 80.2709]
        worker-1 < Delivered order #1.
        donor-1  < ஆர்டர் #1 [photo]
        rest-2   < Order #1 was delivered.
        donor-3  < கூட்டுநிதி {code}-இன் சாப்பாடு அவரிடம் கொடுக்கப்பட்டது. கொடுத்ததற்கு நன்றி!
        donor-2  < கூட்டுநிதி {code}-இன் சாப்பாடு அவரிடம் கொடுக்கப்பட்டது. கொடுத்ததற்கு நன்றி!
    """,
}


@asynccontextmanager
async def campaign_app(tmp_path: Path, app_db: Path, language: str) -> AsyncIterator[dict[str, Any]]:
    """The demo cast on the web chat, donor-2 on SMS and donor-3 on Telegram, each giver with ₹200;
    the donors speak `language` (restaurants and workers English)."""
    users = users_on("webchat") | {n: User(n, ch, address_for(n, ch)) for n, (ch, _name) in GIVERS.items()}
    twilio = RecordingTwilio().start()
    try:
        with FakeTelegram() as telegram:
            async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
                async with env["runtime"].store.uow() as uow:
                    admin = await uow.people.find("webchat", "admin")
                    ids = {"donor-1": (await uow.people.find("webchat", "donor-1")).id}
                    for n, (ch, name) in GIVERS.items():
                        person = await uow.people.get_or_create(ch, users[n].address)
                        await uow.people.set_name(person.id, name)
                        await record_deposit(uow, person.id, 20_000, f"seed-{n}", admin.actor, "test deposit")
                        ids[n] = person.id
                    for pid in ids.values():
                        await uow.people.set_language(pid, language)
                env["ids"] = ids
                yield env
    finally:
        twilio.stop()


async def assert_all_tamil(env: dict[str, Any], code: str) -> None:
    """Every message and button the donors saw is Tamil (but for the code, names, meals, commands)."""
    for name in ("donor-1", "donor-2", "donor-3"):
        for seen in (await env["chat"].fetch(name)).seen:
            for text in [seen.text, *(b.label for b in seen.buttons)]:
                text = re.sub(r"https?://\S+", " ", text)  # the progress page's link
                left = latin_left(text.replace(code, " ").replace("Rs.", "₹").replace("Priya", " "))
                assert not left, f"{name} got English: {text!r}"


async def code_of(env: dict[str, Any]) -> str:
    """The share code of the newest campaign (codes are random)."""
    async with env["runtime"].store.reader() as uow:
        campaign = await uow.campaigns.get(1)
    assert campaign is not None
    return campaign.code


async def balances(env: dict[str, Any]) -> dict[str, int]:
    async with env["runtime"].store.reader() as uow:
        return {n: await uow.ledger.balance(donor_account(pid)) for n, pid in env["ids"].items()} | {
            "campaign": await uow.ledger.balance(campaign_account(1)), "escrow": await uow.ledger.balance(escrow_account(1))}


async def run_met_and_delivered(env: dict[str, Any], language: str) -> None:
    chat = env["chat"]
    await chat.run(START[language])
    code = await code_of(env)
    share = await chat.fetch("donor-1")
    assert share.seen[-1].text.endswith(f"http://test/c/{code}")
    await chat.run(met(code)[language])
    # Money given (50 + 40 + 30) is now in the order's escrow, each gift its own contribution.
    assert await balances(env) == {"donor-1": 95_000, "donor-2": 17_000, "donor-3": 16_000, "campaign": 0, "escrow": 12_000}
    await chat.run(DELIVERY[language].format(code=code))
    env["clock"].advance(minutes=30)
    assert await settle_due(env["runtime"].store) == 1
    await chat.settle()
    await chat.run("""
        rest-2   < Order #1: ₹80 is now credited to you.
        worker-1 < Job #1: ₹34 is now in your earnings.
    """)
    async with env["runtime"].store.reader() as uow:
        campaign = await uow.campaigns.get(1)
        contributions = await uow.contributions.for_order(1)
    assert campaign is not None and campaign.status.value == "completed"
    assert [(c.person_id, c.amount, c.tip) for c in contributions] == [
        (env["ids"]["donor-1"], 5_000, 417), (env["ids"]["donor-3"], 4_000, 333), (env["ids"]["donor-2"], 3_000, 250)]
    assert (await balances(env))["escrow"] == 0
    if language == "ta":
        await assert_all_tamil(env, code)
    await assert_ledger_invariants(env["runtime"].store)


async def test_three_donors_one_anonymous_one_by_sms_fund_a_meal_that_is_delivered(tmp_path: Path, app_db: Path) -> None:
    async with campaign_app(tmp_path, app_db, "en") as env:
        await run_met_and_delivered(env, "en")


async def test_the_same_campaign_in_tamil(tmp_path: Path, app_db: Path) -> None:
    async with campaign_app(tmp_path, app_db, "ta") as env:
        await run_met_and_delivered(env, "ta")


EXPIRY = {
    "en": """
        donor-2  > give {code} 30
        donor-2  < Give ₹30 to campaign {code}
        donor-2  > [tap Give, show my name]
        donor-2  < Thank you! ₹30 given to campaign {code}. ₹30 of ₹120 raised; ₹90 to go.
        donor-1  < Campaign {code}: Priya gave ₹30. ₹30 of ₹120 raised.
        donor-3  > /give {code} 20
        donor-3  < Give ₹20 to campaign {code}
        donor-3  > [tap Give anonymously]
        donor-3  < Thank you! ₹20 given to campaign {code}. ₹50 of ₹120 raised; ₹70 to go.
        donor-1  < Campaign {code}: Someone gave ₹20. ₹50 of ₹120 raised.
    """,
    "ta": """
        donor-2  > கொடு {code} 30
        donor-2  < கூட்டுநிதி {code}-க்கு ₹30 கொடுக்கவா?
        donor-2  > 1
        donor-2  < நன்றி! {code}-க்கு ₹30. ₹120-இல் ₹30; மீதம் ₹90.
        donor-1  < கூட்டுநிதி {code}: Priya ₹30 கொடுத்தார்.
        donor-3  > கொடு {code} 20
        donor-3  < கூட்டுநிதி {code}-க்கு ₹20 கொடுக்கவா?
        donor-3  > [tap பெயரின்றி கொடு]
        donor-3  < நன்றி! கூட்டுநிதி {code}-க்கு ₹20 கொடுத்தீர்கள்.
        donor-1  < கூட்டுநிதி {code}: ஒருவர் ₹20 கொடுத்தார்.
    """,
}

# SMS followers hear of gifts in one batched summary (flows/campaign_notify.flush_progress), not one by one.
SMS_SUMMARY = {
    "en": "donor-2  < Campaign {code}: 1 new gift (₹20). ₹50 of ₹120 raised; ₹70 to go.",
    "ta": "donor-2  < {code}: 1 புதிய கொடை (₹20). ₹120-இல் ₹50; மீதம் ₹70.",
}

EXPIRED = {
    "en": """
        donor-1  < Campaign {code} did not reach its target in time (₹50 of ₹120), so it has ended.
        donor-3  < Campaign {code} did not reach its target in time (₹50 of ₹120), so it has ended. ₹20 is back in your balance.
        donor-2  < Campaign {code} did not reach its target in time (₹50 of ₹120), so it has ended. ₹30 is back in your balance.
        donor-2  > give {code} 10
        donor-2  < Campaign {code} has ended without reaching its target; everyone who gave got their money back.
    """,
    "ta": """
        donor-1  < கூட்டுநிதி {code} நேரத்துக்குள் இலக்கை எட்டவில்லை (₹120-இல் ₹50), அதனால் முடிந்தது.
        donor-3  < ₹20 உங்கள் இருப்பில் திரும்ப வந்தது.
        donor-2  < ₹30 உங்கள் இருப்பில் திரும்ப வந்தது.
        donor-2  > கொடு {code} 10
        donor-2  < கூட்டுநிதி {code} இலக்கை எட்டாமல் முடிந்தது
    """,
}


async def run_expiry(env: dict[str, Any], language: str) -> None:
    chat = env["chat"]
    await chat.run(START[language])
    code = await code_of(env)
    await chat.run(EXPIRY[language].format(code=code))
    async with env["runtime"].store.uow() as uow:
        assert await flush_progress(uow) == 1
    await chat.settle()
    await chat.run(SMS_SUMMARY[language].format(code=code))
    async with env["runtime"].store.uow() as uow:
        assert await flush_progress(uow) == 0  # told already: nothing twice
    # The public page: a progress bar and how to give; nobody's name, anonymous or not.
    page = await env["client"].get(f"/c/{code.lower()}", params={"lang": language})
    assert page.status_code == 200 and 'max="12000" value="5000"' in page.text
    assert "Priya" not in page.text and "Kumar" not in page.text and f"/give {code}" in page.text
    figures = (await env["client"].get(f"/api/campaigns/{code}")).json()
    assert (figures["raised"], figures["remaining"], figures["gifts"], figures["status"]) == (5_000, 7_000, 2, "funding")
    assert (await env["client"].get("/c/ZZZZZ")).status_code == 404
    env["clock"].advance(minutes=119)
    assert await expire_campaigns(env["runtime"].store, env["runtime"].board) == 0
    env["clock"].advance(minutes=1)
    assert await expire_campaigns(env["runtime"].store, env["runtime"].board) == 1
    await chat.settle()  # the scheduler's messages go out as the outbox sender would send them
    await chat.run(EXPIRED[language].format(code=code))
    assert await expire_campaigns(env["runtime"].store, env["runtime"].board) == 0
    # Contributed 50 = refunded 50; nothing kept anywhere.
    assert await balances(env) == {"donor-1": 100_000, "donor-2": 20_000, "donor-3": 20_000, "campaign": 0, "escrow": 0}
    if language == "ta":
        await assert_all_tamil(env, code)
    await assert_ledger_invariants(env["runtime"].store)


async def test_a_campaign_that_expires_refunds_everyone(tmp_path: Path, app_db: Path) -> None:
    async with campaign_app(tmp_path, app_db, "en") as env:
        await run_expiry(env, "en")


async def test_a_campaign_that_expires_refunds_everyone_in_tamil(tmp_path: Path, app_db: Path) -> None:
    async with campaign_app(tmp_path, app_db, "ta") as env:
        await run_expiry(env, "ta")


HOSTILE = {
    "en": """
        worker-2 > give {code} 9
        worker-2 < The least you can give is ₹10.
        worker-2 > give {code} 10,00,00,000
        worker-2 < Campaign {code} needs only ₹120 more. Please give at most that.
        worker-2 > give {code} -50
        worker-2 < Please write the amount in rupees, for example: /give {code} 50
        worker-2 > /give {code} fifty
        worker-2 < Please write the amount in rupees, for example: /give {code} 50
        worker-2 > /give {code}
        worker-2 < How much would you like to give? Send: /give {code} <rupees>
        worker-2 > /give ZZZZZ 10
        worker-2 < There is no campaign with the code ZZZZZ. Please check the code and try again.
        worker-2 > /give
        worker-2 < Send /give with the campaign code and an amount in rupees, for example: /give K7QXM 50
        worker-2 > /give {code} 20
        worker-2 < Give ₹20 to campaign {code}
        worker-2 > [tap Give anonymously]
        worker-2 < Your balance is ₹0, which is not enough to give ₹20. Add money with /topup, then try again.
    """,
    "ta": """
        worker-2 > கொடு {code} 9
        worker-2 < குறைந்தது ₹10 கொடுக்க வேண்டும்.
        worker-2 > கொடு {code} 10,00,00,000
        worker-2 < கூட்டுநிதி {code}-க்கு இன்னும் ₹120 மட்டுமே தேவை. அதற்கு மேல் கொடுக்க வேண்டாம்.
        worker-2 > கொடு {code} -50
        worker-2 < தொகையை ரூபாயில் எழுதுங்கள், எடுத்துக்காட்டாக: /give {code} 50
        worker-2 > கொடு {code} ஐம்பது
        worker-2 < தொகையை ரூபாயில் எழுதுங்கள், எடுத்துக்காட்டாக: /give {code} 50
        worker-2 > கொடு ZZZZZ 10
        worker-2 < ZZZZZ என்ற குறியீட்டில் கூட்டுநிதி இல்லை. குறியீட்டைச் சரிபார்த்து மீண்டும் அனுப்புங்கள்.
        worker-2 > கொடு {code} 20
        worker-2 < கூட்டுநிதி {code}-க்கு ₹20 கொடுக்கவா?
        worker-2 > [press give:]
        worker-2 < உங்கள் பேலன்ஸ் ₹0; ₹20 கொடுக்க இது போதாது. /topup மூலம் பணம் சேர்த்து, மீண்டும் முயலுங்கள்.
    """,
}

STRANGER_CANCEL = {
    "en": "worker-2 < Only the person who started campaign {code} can cancel it.",
    "ta": "worker-2 < கூட்டுநிதி {code}-ஐத் தொடங்கியவர் மட்டுமே அதை நிறுத்த முடியும்.",
}

COMPLETED = {
    "en": """
        donor-1  > /give {code} 120
        donor-1  < Give ₹120 to campaign {code}
        donor-1  > [tap Give, show my name]
        donor-1  < Thank you! Your ₹120 completed campaign {code}: the meal is ordered.
        rest-2   < New order #1 [Accept] [Reject]
        donor-1  > [tap Give, show my name]
        donor-1  < That question has already been answered.
        worker-2 > /give {code} 10
        worker-2 < Campaign {code} has already reached its target. Thank you for wanting to help!
        donor-1  > [tap Cancel campaign]
        donor-1  < Campaign {code} has already reached its target. Thank you for wanting to help!
    """,
    "ta": """
        donor-1  > கொடு {code} 120
        donor-1  < கூட்டுநிதி {code}-க்கு ₹120 கொடுக்கவா?
        donor-1  > [press give:1:12000:0:]
        donor-1  < நன்றி! உங்கள் ₹120-ஆல் கூட்டுநிதி {code} இலக்கை எட்டியது
        rest-2   < New order #1 [Accept] [Reject]
        donor-1  > [press give:1:12000:0:]
        donor-1  < அந்தக் கேள்விக்கு ஏற்கனவே பதில் அளிக்கப்பட்டுவிட்டது.
        worker-2 > கொடு {code} 10
        worker-2 < கூட்டுநிதி {code} ஏற்கனவே இலக்கை எட்டிவிட்டது. உதவ நினைத்ததற்கு நன்றி!
        donor-1  > [press campaignstop:]
        donor-1  < கூட்டுநிதி {code} ஏற்கனவே இலக்கை எட்டிவிட்டது. உதவ நினைத்ததற்கு நன்றி!
    """,
}


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_hostile_gifts_and_a_strangers_cancel_get_polite_answers_and_move_nothing(
    language: str, app_env: dict[str, Any]
) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    async with store.uow() as uow:
        for address in ("donor-1", "worker-2"):
            await uow.people.set_language((await uow.people.find("webchat", address)).id, language)
    await chat.run(START[language])
    async with store.reader() as uow:
        code = (await uow.campaigns.get(1)).code  # type: ignore[union-attr]
    await chat.run(HOSTILE[language].format(code=code))
    await chat.post("worker-2", json={"button": "campaignstop:1"})  # a forged Cancel for someone else's campaign
    await chat.drain()
    await chat.run(STRANGER_CANCEL[language].format(code=code))
    async with store.reader() as uow:
        assert (await uow.campaigns.get(1)).raised == 0  # type: ignore[union-attr]
    # One question, two taps: charged once. Then the campaign is full: no more gifts, no cancel.
    await chat.run(COMPLETED[language].format(code=code))
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account((await uow.people.find("webchat", "donor-1")).id)) == 88_000
        assert await uow.ledger.balance(escrow_account(1)) == 12_000
    await assert_ledger_invariants(store)
