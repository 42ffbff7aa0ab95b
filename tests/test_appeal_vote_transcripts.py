"""With a single admin, an appeal goes to the members' vote: the admin splits a disputed order,
the donor appeals, the members vote, it passes, the close job reverses the split and refunds
everything (source proposal:1), the order's status follows, and every party is told, in English
and Tamil, on web chat and SMS; hostile taps are refused politely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.orders.dispute_model import DisputeStatus
from core.orders.lifecycle import Status
from core.schedule.jobs import close_proposals
from tests.channel_chat import User, channel_app, users_on
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_dispute_transcripts import (
    SMS_REPORTED,
    SMS_REPORTED_TAMIL,
    TAMIL_REPORTED,
    _accounts,
    _person,
    decision_postings,
    sms_cast,
    speak_tamil,
)
from tests.test_disputes import REPORTED, UP_TO_DELIVERED
from tests.test_every_channel import SMS_MEAL, fakes
from tests.test_failed_delivery import balances_after
from tests.test_governance_channels import both_fakes
from tests.test_meal_transcript import MEAL
from tests.test_tamil_transcript import latin_left

APPEALED = """
    donor-1  > [tap Appeal]
    donor-1  < so the members will vote on your appeal. What should the decision on order #1 be instead? [Settle] [Refund all] [Fee only]
    donor-1  > [tap Refund all]
    donor-1  < Appeal recorded. The members vote on it as proposal #1: Change the decision on order #1 from Meal only to Refund all?
    rest-2   < Order #1: a party appealed the decision. The members vote on it as proposal #1: Change the decision on order #1
    worker-1 < Order #1: a party appealed the decision.
    # Members see the order number, the outcomes, the reason's category and the amounts: no names, places or photos.
    rest-1   < Problem reported: Bad food. Meal ₹80, delivery ₹30, tip ₹10. Voting closes [Yes] [No] [Abstain]
    rest-2   < Vote on proposal #1, an appeal no second admin could decide [Yes] [No] [Abstain]
    worker-1 < Vote on proposal #1, an appeal no second admin could decide [Yes] [No] [Abstain]
    worker-2 < Vote on proposal #1, an appeal no second admin could decide [Yes] [No] [Abstain]
    worker-3 < Vote on proposal #1, an appeal no second admin could decide [Yes] [No] [Abstain]
"""

VOTED = """
    rest-1   > [tap Yes]
    rest-1   < Your vote on proposal #1 counts: Yes.
    worker-2 > [tap Yes]
    worker-2 < Your vote on proposal #1 counts: Yes.
    rest-2   > [tap No]
    rest-2   < Your vote on proposal #1 counts: No.
"""

CLOSED = """
    rest-1   < Proposal #1 passed: Change the decision on order #1 from Meal only to Refund all. Yes 2, no 1, abstain 0, of 5 members.
    rest-2   < Proposal #1 passed: Change the decision on order #1 from Meal only to Refund all.
    worker-1 < Proposal #1 passed
    worker-2 < Proposal #1 passed
    worker-3 < Proposal #1 passed
    donor-1  < the members' vote (proposal #1) changed the decision to Refund all. The restaurant gets ₹0, the delivery worker ₹0, and ₹120
    rest-2   < Order #1: the members' vote (proposal #1) changed the decision to Refund all. The restaurant gets ₹0
    worker-1 < Order #1: the members' vote (proposal #1) changed the decision to Refund all.
"""


# Buttons posted by hand, as a hostile client could: (user, payload, the polite reply).
BEFORE_CLOSE = (
    ("donor-1", "appeal:1", "That question has already been answered."),  # their Appeal button, pressed again
    ("donor-1", "appealto:1:settle", "That question has already been answered."),
    ("worker-2", "appeal:1", "Only the people of an order can report a problem with it."),
    ("worker-2", "appealto:1:refund", "Only the people of an order can report a problem with it."),
    ("donor-1", "vote:1:yes", "Only members of the cooperative can do that. Send /join to become a member."),
    # a second admin who appears during the vote leaves it to the members (they may have voted)
    ("admin-2", "resolve:1:settle", "The members are voting on this appeal; their vote decides it."),
)
AFTER_CLOSE = (
    ("worker-3", "vote:1:no", "Voting on that proposal has closed."),
    ("rest-2", "appeal:1", "That offer has expired. Send /help to see what you can do."),  # the Appeal button, days later
    ("admin-2", "resolve:1:settle", "This dispute was already resolved."),
)


async def hostile(env: dict[str, Any], cases: tuple[tuple[str, str, str], ...]) -> None:
    """Post each payload by hand and read the refusal; nothing else arrives for anyone."""
    for user, payload, reply in cases:
        response = await env["chat"].post(user, json={"button": payload})
        assert response.status_code == 202, response.text
        await env["runtime"].processor.drain()
        await env["chat"].run(f"{user} < {reply}")


async def test_a_lone_admins_split_is_appealed_and_the_members_vote_refunds_everything(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(UP_TO_DELIVERED)
    app_env["clock"].advance(minutes=10)
    await chat.run(REPORTED)
    await chat.run(APPEALED)
    async with store.uow() as uow:  # a second admin arrives while the members vote
        second = await uow.people.get_or_create("webchat", "admin-2")
        await uow.people.set_flags(second.id, is_admin=True)
    await hostile(app_env, BEFORE_CLOSE)
    await chat.run(VOTED)
    app_env["clock"].advance(hours=72)
    assert await close_proposals(store) == {"passed": 1}
    assert await close_proposals(store) == {}  # the job again: nothing more
    await chat.run(CLOSED)
    await hostile(app_env, AFTER_CLOSE)
    # Veg biryani ₹80 + fee ₹30 + tip ₹10: the meal-only split reversed (the restaurant's ₹80
    # back to the escrow) and all ₹120 refunded to the donor.
    balances = await balances_after(app_env)
    assert (balances["rest-2"], balances["donor-1"], balances["escrow:order:1"]) == (0, 100_000, 0)
    async with store.reader() as uow:
        order, dispute = await uow.orders.get(1), await uow.disputes.get(1)
        resolved = await chain_events(uow, "dispute.resolved")
    assert order is not None and order.status is Status.REFUNDED
    assert dispute is not None and dispute.status is DisputeStatus.FINAL and dispute.appeal_resolved_by is None
    assert [(e.actor, e.data["resolution"], e.data["source"]) for e in resolved][-1] == ("scheduler", "refund", "proposal:1")
    await assert_ledger_invariants(store)


# --- in Tamil, on web chat: the donor, both kitchens and the admin read Tamil, Murugan (worker-1) English

TAMIL_APPEALED = """
    donor-1  > [tap மேல்முறையீடு]
    donor-1  < இரண்டாவது அட்மின் இல்லை, அதனால் உங்கள் மேல்முறையீட்டுக்கு உறுப்பினர்கள் ஓட்டுப் போடுவார்கள். [வழக்கம்போல் கொடு] [முழுப் பணம் திரும்ப] [டெலிவரிக்கு மட்டும்]
    donor-1  > [tap முழுப் பணம் திரும்ப]
    donor-1  < மேல்முறையீடு பதிவானது. உறுப்பினர்கள் முன்மொழிவு #1-இல் ஓட்டுப் போடுவார்கள்: ஆர்டர் #1-இன் முடிவு: “சாப்பாடு மட்டும்” என்பதிலிருந்து
    rest-2   < ஆர்டர் #1: முடிவுக்கு எதிராக மேல்முறையீடு வந்துள்ளது. உறுப்பினர்கள் முன்மொழிவு #1-இல் ஓட்டுப் போடுவார்கள்
    worker-1 < Order #1: a party appealed the decision. The members vote on it as proposal #1
    rest-1   < முன்மொழிவு #1-க்கு ஓட்டுப் போடுங்கள் (இரண்டாவது அட்மின் இல்லாத மேல்முறையீடு) [ஆம்] [இல்லை] [நடுநிலை]
    rest-2   < புகார்: சாப்பாடு சரியில்லை. சாப்பாடு ₹80, டெலிவரி ₹30, டிப்ஸ் ₹10. ஓட்டெடுப்பு [ஆம்] [இல்லை] [நடுநிலை]
    worker-1 < Problem reported: Bad food. Meal ₹80, delivery ₹30, tip ₹10. [Yes] [No] [Abstain]
    worker-2 < Vote on proposal #1, an appeal no second admin could decide [Yes] [No] [Abstain]
    worker-3 < Vote on proposal #1, an appeal no second admin could decide [Yes] [No] [Abstain]
    rest-1   > [tap ஆம்]
    rest-1   < முன்மொழிவு #1-க்கு உங்கள் ஓட்டு பதிவானது: ஆம்.
    worker-1 > [tap No]
    worker-1 < Your vote on proposal #1 counts: No.
    worker-3 > [tap Yes]
    worker-3 < Your vote on proposal #1 counts: Yes.
"""

TAMIL_CLOSED = """
    rest-1   < முன்மொழிவு #1 நிறைவேறியது: ஆர்டர் #1-இன் முடிவு: “சாப்பாடு மட்டும்” என்பதிலிருந்து “முழுப் பணம் திரும்ப” ஆக.
    rest-2   < முன்மொழிவு #1 நிறைவேறியது
    worker-1 < Proposal #1 passed: Change the decision on order #1 from Meal only to Refund all. Yes 2, no 1, abstain 0, of 5 members.
    worker-2 < Proposal #1 passed
    worker-3 < Proposal #1 passed
    donor-1  < ஆர்டர் #1: உறுப்பினர்களின் ஓட்டெடுப்பு (முன்மொழிவு #1) முடிவை “முழுப் பணம் திரும்ப” என மாற்றியது. ஹோட்டலுக்கு ₹0
    rest-2   < ஆர்டர் #1: உறுப்பினர்களின் ஓட்டெடுப்பு (முன்மொழிவு #1) முடிவை “முழுப் பணம் திரும்ப” என மாற்றியது.
    worker-1 < Order #1: the members' vote (proposal #1) changed the decision to Refund all.
"""


async def test_the_members_vote_on_an_appeal_in_tamil(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(MEAL)
    tamil = ("donor-1", "rest-1", "rest-2", "admin")
    await speak_tamil(store, tamil)
    app_env["clock"].advance(minutes=10)
    before = {name: len((await chat.fetch(name)).seen) for name in tamil}
    await chat.run(TAMIL_REPORTED)
    await chat.run(TAMIL_APPEALED)
    app_env["clock"].advance(hours=72)
    assert await close_proposals(store) == {"passed": 1}
    await chat.run(TAMIL_CLOSED)
    for name in tamil:  # every message to a Tamil speaker is Tamil
        for message in (await chat.fetch(name)).seen[before[name] :]:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text), f"{name} got English: {text!r}"
    balances = await balances_after(app_env)
    assert (balances["rest-2"], balances["donor-1"], balances["escrow:order:1"]) == (0, 100_000, 0)
    await assert_ledger_invariants(store)


# --- on SMS: everyone but the paying web page is on SMS, the only admin too ------------------------

SMS_APPEALED = """
    donor-sms > [tap Appeal]
    donor-sms < There is no second admin, so the members will vote on your appeal.
    donor-1   < There is no second admin, so the members will vote on your appeal.
    donor-sms > [tap Meal only]
    donor-sms < Appeal recorded. The members vote on it as proposal #1: Change the decision on order #1 from Fee only to Meal only?
    donor-1   < Appeal recorded. The members vote on it as proposal #1
    rest-2    < Order #1: a party appealed the decision. The members vote on it as proposal #1
    worker-1  < Order #1: a party appealed the decision.
    rest-1    < Vote on proposal #1, an appeal no second admin could decide: Change the decision on order #1 from Fee only to Meal only?
    rest-2    < Vote on proposal #1
    worker-1  < Vote on proposal #1
    worker-2  < Vote on proposal #1
    worker-3  < Vote on proposal #1
    rest-1    > yes
    rest-1    < Your vote on proposal #1 counts: Yes.
    worker-2  > 1
    worker-2  < Your vote on proposal #1 counts: Yes.
"""

SMS_CLOSED = """
    rest-1    < Proposal #1 passed: Change the decision on order #1 from Fee only to Meal only. Yes 2, no 0, abstain 0, of 5 members.
    rest-2    < Proposal #1 passed
    worker-1  < Proposal #1 passed
    worker-2  < Proposal #1 passed
    worker-3  < Proposal #1 passed
    donor-sms < Order #1: the members' vote (proposal #1) changed the decision to Meal only.
    donor-1   < Order #1: the members' vote (proposal #1) changed the decision to Meal only.
    rest-2    < Order #1: the members' vote (proposal #1) changed the decision to Meal only. The restaurant gets ₹80
    worker-1  < Order #1: the members' vote (proposal #1) changed the decision to Meal only. The restaurant gets ₹80
"""


async def test_the_members_vote_on_an_appeal_by_sms(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"donor-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            await chat.run(SMS_MEAL)
            await sms_cast(env)
            env["clock"].advance(minutes=10)
            await chat.run(SMS_REPORTED)
            await chat.run(SMS_APPEALED)
            env["clock"].advance(hours=72)
            assert await close_proposals(store) == {"passed": 1}
            await chat.settle()  # the close job's messages go out through the SMS sender
            await chat.run(SMS_CLOSED)
            # Fee only (worker 2 400 + 1 000 tip, pool 300, infra 300; 8 000 back) reversed; now the
            # meal 8 000 to the kitchen and 4 000 back to the donor.
            rest = await _accounts(store, "rest-2", "sms", users["rest-2"].address)
            worker = await _accounts(store, "worker-1", "sms", users["worker-1"].address)
            async with store.reader() as uow:
                order = await uow.orders.get(1)
                got = {a: await uow.ledger.balance(a) for a in (rest, worker, "escrow:order:1")}
            assert got == {rest: 8_000, worker: 0, "escrow:order:1": 0}
            assert order is not None and order.status is Status.SETTLED
            assert await decision_postings(store, round_=2) == {
                "settle": sorted([(rest, 8_000), ("escrow:order:1", -8_000)]),
                "refund": sorted([(f"donor:{await _person(store, 'donor-1')}", 4_000), ("escrow:order:1", -4_000)]),
            }
            await assert_ledger_invariants(store)


# In Tamil by SMS: the short SMS wording (ketpaar_sms.po) where the full one would not fit two parts.
SMS_APPEALED_TAMIL = """
    donor-sms > 3
    donor-sms < இரண்டாவது அட்மின் இல்லை; உறுப்பினர்கள் ஓட்டுப் போடுவார்கள். அதற்குப் பதிலாக ஆர்டர் #1-க்கு என்ன முடிவு?
    donor-1   < இரண்டாவது அட்மின் இல்லை [வழக்கம்போல் கொடு] [முழுப் பணம் திரும்ப] [டெலிவரிக்கு மட்டும்]
    donor-sms > 4
    donor-sms < மேல்முறையீடு பதிவானது. முன்மொழிவு #1: ஆர்டர் #1-இன் முடிவு: “சாப்பாடு மட்டும்” என்பதிலிருந்து “முழுப் பணம் திரும்ப” ஆக?
    donor-1   < மேல்முறையீடு பதிவானது. முன்மொழிவு #1: ஆர்டர் #1-இன் முடிவு:
    rest-2    < ஆர்டர் #1: மேல்முறையீடு. முன்மொழிவு #1: ஆர்டர் #1-இன் முடிவு:
    worker-1  < ஆர்டர் #1: மேல்முறையீடு. முன்மொழிவு #1
    rest-1    < Vote on proposal #1, an appeal no second admin could decide
    rest-2    < முன்மொழிவு #1-க்கு ஓட்டுப் போடுங்கள் (இரண்டாவது அட்மின் இல்லாத மேல்முறையீடு)
    worker-1  < முன்மொழிவு #1-க்கு ஓட்டுப் போடுங்கள்
    worker-2  < Vote on proposal #1
    worker-3  < Vote on proposal #1
    rest-2    > ஆம்
    rest-2    < முன்மொழிவு #1-க்கு உங்கள் ஓட்டு பதிவானது: ஆம்.
"""

SMS_CLOSED_TAMIL = """
    rest-1    < Proposal #1 passed
    rest-2    < முன்மொழிவு #1 நிறைவேறியது
    worker-1  < முன்மொழிவு #1 நிறைவேறியது
    worker-2  < Proposal #1 passed
    worker-3  < Proposal #1 passed
    donor-sms < ஆர்டர் #1: உறுப்பினர்களின் ஓட்டெடுப்பு (முன்மொழிவு #1) முடிவை “முழுப் பணம் திரும்ப” என மாற்றியது.
    donor-1   < ஆர்டர் #1: உறுப்பினர்களின் ஓட்டெடுப்பு (முன்மொழிவு #1) முடிவை “முழுப் பணம் திரும்ப” என மாற்றியது.
    rest-2    < ஹோட்டலுக்கு ₹0, டெலிவரி பணியாளருக்கு ₹0, பணம் கொடுத்தவருக்கு ₹120 திரும்ப.
    worker-1  < ஹோட்டலுக்கு ₹0, டெலிவரி பணியாளருக்கு ₹0, பணம் கொடுத்தவருக்கு ₹120 திரும்ப.
"""


async def test_the_members_vote_on_an_appeal_by_sms_in_tamil(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"donor-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            await chat.run(SMS_MEAL)
            await sms_cast(env)
            tamil = ("donor-1", "rest-2", "worker-1", "admin-1")
            await speak_tamil(store, tamil, chat.users)
            env["clock"].advance(minutes=10)
            before = {name: len((await chat.fetch(name)).seen) for name in chat.cast()}
            await chat.run(SMS_REPORTED_TAMIL)
            await chat.run(SMS_APPEALED_TAMIL)
            env["clock"].advance(hours=72)
            assert await close_proposals(store) == {"passed": 1}
            await chat.settle()
            await chat.run(SMS_CLOSED_TAMIL)
            for name in (*tamil, "donor-sms"):  # every message to a Tamil speaker is Tamil (numbers and amounts aside)
                for message in (await chat.fetch(name)).seen[before[name] :]:
                    assert not latin_left(message.text), f"{name} got English: {message.text!r}"
            donor = f"donor:{await _person(store, 'donor-1')}"
            async with store.reader() as uow:
                order = await uow.orders.get(1)
                assert await uow.ledger.balance(donor) == 100_000 and await uow.ledger.balance("escrow:order:1") == 0
            assert order is not None and order.status is Status.REFUNDED
            await assert_ledger_invariants(store)


# --- the poll on every channel: a native poll on Telegram, quick replies on WhatsApp, numbers on SMS

CHANNELS = {"worker-2": "telegram", "worker-3": "whatsapp", "rest-1": "sms", "*": "webchat"}
QUESTION = "Change the decision on order #1 from Meal only to Refund all"

POLLS = f"""
    rest-1   < Vote on proposal #1, an appeal no second admin could decide: {QUESTION}? Problem reported: Bad food.
    rest-2   < Vote on proposal #1 [Yes] [No] [Abstain]
    worker-1 < Vote on proposal #1 [Yes] [No] [Abstain]
    # Telegram: the text, then the native poll (non-anonymous: each answer names the member)
    worker-2 < Vote on proposal #1, an appeal no second admin could decide
    worker-2 < Proposal #1: {QUESTION}? [Yes] [No] [Abstain]
    worker-3 < Vote on proposal #1 [Yes] [No] [Abstain]
    worker-2 > [tap Yes]
    worker-2 < Your vote on proposal #1 counts: Yes.
    worker-3 > [tap Yes]
    worker-3 < Your vote on proposal #1 counts: Yes.
    rest-1   > 2
    rest-1   < Your vote on proposal #1 counts: No.
"""


async def test_members_vote_on_an_appeal_on_telegram_whatsapp_sms_and_the_web(app_db: Path, tmp_path: Path) -> None:
    users = {**users_on(CHANNELS), "admin": User("admin", "webchat", "admin")}  # the demo's only admin
    with both_fakes() as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            await chat.run(UP_TO_DELIVERED)
            env["clock"].advance(minutes=10)
            await chat.run(REPORTED)
            await chat.open_whatsapp_windows()  # WhatsApp members wrote within the last 24 hours
            await chat.run(APPEALED.partition("    rest-1   <")[0] + POLLS)
            env["clock"].advance(hours=71)
            await chat.open_whatsapp_windows()  # within WhatsApp's 24-hour window when the result goes out
            env["clock"].advance(hours=1)
            assert await close_proposals(store) == {"passed": 1}
            await chat.settle()
            await chat.run(CLOSED)
            async with store.reader() as uow:
                votes = [(e.data["choice"], e.data["channel"]) for e in await chain_events(uow, "proposal.vote")]
            assert sorted(votes) == [("no", "sms"), ("yes", "telegram"), ("yes", "whatsapp")]
            [poll] = [p for p in telegram.polls.values() if p["chat_id"] == users["worker-2"].address]
            assert poll["is_anonymous"] is False and poll["question"] == f"Proposal #1: {QUESTION}?"
            await assert_ledger_invariants(store)
