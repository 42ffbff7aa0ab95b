"""Disputes by chat in Tamil (web chat) and on SMS (English and Tamil): the donor reports a
problem, an admin splits the escrow, every party is told in their language, and the exact
postings of the decision are checked; an appeal against a refund the donor has spent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.ledger.model import POOL, transfer
from core.orders.dispute_model import DisputeStatus
from core.schedule.jobs import settle_due
from tests.channel_chat import User, channel_app, users_on
from tests.helpers import assert_ledger_invariants
from tests.test_every_channel import SMS_MEAL, fakes
from tests.test_meal_transcript import MEAL
from tests.test_tamil_transcript import latin_left

PARTIES = ("donor-1", "rest-2", "worker-1", "admin")
TAMIL_SPEAKERS = ("donor-1", "rest-2", "admin")  # Murugan (worker-1) reads English: each is told in their own language


async def speak_tamil(store: Any, names: tuple[str, ...], channel_of: dict[str, Any] | None = None) -> None:
    """The people named switch to Tamil (as /language would)."""
    async with store.uow() as uow:
        for name in names:
            channel, address = ("webchat", name) if channel_of is None else (channel_of[name].channel, channel_of[name].address)
            person = await uow.people.find(channel, address)
            assert person is not None, name
            await uow.people.set_language(person.id, "ta")


async def decision_postings(store: Any, order_id: int = 1, round_: int = 1) -> dict[str, list[tuple[str, int]]]:
    """The ledger lines of a dispute decision, by transaction, with person-specific accounts named."""
    async with store.reader() as uow:
        found = {}
        for kind, ref in (("settle", f"order:{order_id}:dispute:{round_}"), ("refund", f"order:{order_id}:refund:dispute:{round_}")):
            tx_id = await uow.ledger.existing(kind, ref)
            found[kind] = sorted(await uow.ledger.postings_of(tx_id)) if tx_id is not None else []
    return found


# The delivered message (and its Report a problem button) came before the switch to Tamil.
TAMIL_REPORTED = """
    donor-1  > [press dispute:1]
    donor-1  < ஆர்டர் #1-இல் என்ன பிரச்சனை? [சாப்பாடு வரவில்லை] [வேறு நபர்] [சாப்பாடு சரியில்லை] [பாதுகாப்பு பிரச்சனை] [வேறு ஏதாவது]
    donor-1  > [tap சாப்பாடு சரியில்லை]
    donor-1  < என்ன நடந்தது என்று சில வார்த்தைகளில் எழுதுங்கள் (வேண்டாமென்றால் “தவிர்” என்று அனுப்புங்கள்).
    donor-1  > சாதம் கெட்டுப்போயிருந்தது
    donor-1  < ஆர்டர் #1 பற்றிய உங்கள் புகார் பதிவானது. அட்மின் முடிவு செய்யும் வரை பணம் ஹோல்டில் இருக்கும்.
    rest-2   < ஆர்டர் #1 பற்றி ஒரு புகார் வந்துள்ளது: சாப்பாடு சரியில்லை. அட்மின் முடிவு செய்யும் வரை பணம் ஹோல்டில் இருக்கும்.
    worker-1 < A problem was reported with order #1: Bad food. Payment is on hold until an admin decides.
    admin    < புகார் #1, ஆர்டர் #1: சாப்பாடு சரியில்லை. சாப்பாடு ₹80, டெலிவரி ₹30, டிப்ஸ் ₹10. அவர் சொன்னது: சாதம் கெட்டுப்போயிருந்தது [photo]
    admin    > [tap சாப்பாடு மட்டும்]
    admin    < “சாப்பாடு மட்டும்” – ஏன்? ஒரு வரியில் எழுதுங்கள்.
    admin    > சமைத்துக் கொண்டுவந்தார்கள், ஆனால் சாப்பிட முடியவில்லை
    admin    < முடிவு: சாப்பாடு மட்டும். எல்லோருக்கும் சொல்லியாகிவிட்டது.
    donor-1  < ஆர்டர் #1, அட்மின் முடிவு (சாப்பாடு மட்டும்): ஹோட்டலுக்கு ₹80, டெலிவரி பணியாளருக்கு ₹0, பணம் கொடுத்தவருக்கு ₹40 திரும்ப. [மேல்முறையீடு]
    rest-2   < ஆர்டர் #1, அட்மின் முடிவு (சாப்பாடு மட்டும்): ஹோட்டலுக்கு ₹80 [மேல்முறையீடு]
    worker-1 < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹40 goes back [Appeal]
"""


async def test_the_donor_reports_a_problem_and_an_admin_splits_it_in_tamil(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(MEAL)
    await speak_tamil(store, TAMIL_SPEAKERS)
    app_env["clock"].advance(minutes=10)
    before = {name: len((await chat.fetch(name)).seen) for name in PARTIES}
    await chat.run(TAMIL_REPORTED)
    for name in TAMIL_SPEAKERS:  # every message of the dispute to a Tamil speaker is Tamil
        box = await chat.fetch(name)
        for message in box.seen[before[name] :]:
            for text in [message["text"], *(b["label"] for b in message["buttons"])]:
                assert not latin_left(text), f"{name} got English: {text!r}"
    app_env["clock"].advance(minutes=60)
    assert await settle_due(store) == 0  # decided: nothing is left to settle
    # Veg biryani ₹80 + fee ₹30 + tip ₹10: the meal to the restaurant, fee and tip back to the donor.
    rest, donor = await _accounts(store, "rest-2"), f"donor:{await _person(store, 'donor-1')}"
    assert await decision_postings(store) == {
        "settle": sorted([(rest, 8_000), ("escrow:order:1", -8_000)]),
        "refund": sorted([(donor, 4_000), ("escrow:order:1", -4_000)]),
    }
    await assert_ledger_invariants(store)


async def _person(store: Any, name: str, channel: str = "webchat", address: str | None = None) -> int:
    async with store.reader() as uow:
        person = await uow.people.find(channel, address or name)
        assert person is not None
        return int(person.id)


async def _accounts(store: Any, name: str, channel: str = "webchat", address: str | None = None) -> str:
    """The ledger account of a demo restaurant or worker."""
    person_id = await _person(store, name, channel, address)
    async with store.reader() as uow:
        if name.startswith("rest"):
            r = await uow.restaurants.by_person(person_id)
            assert r is not None
            return f"restaurant:{r.id}"
        w = await uow.workers.by_person(person_id)
        assert w is not None
        return f"worker:{w.id}"


# --- on SMS: the donor follows by SMS (linked to the web page that paid), the restaurant, the
# worker and the admin are on SMS --------------------------------------------------------------

SMS_ADMIN = User("admin-1", "sms", "+919840009001")
DONOR_SMS = User("donor-sms", "sms", "+919840001001")


async def sms_cast(env: dict[str, Any], *, admin: bool = True) -> None:
    """The cooperative's admin is on SMS (the web-chat admin stands down), and the donor links
    their phone to the web chat they paid from, by /link, as a person would."""
    chat, store = env["chat"], env["runtime"].store
    if not admin:
        return await link_donor_phone(chat)
    async with store.uow() as uow:
        admin = await uow.people.get_or_create("sms", SMS_ADMIN.address)
        await uow.people.set_flags(admin.id, is_admin=True)
        await uow.people.set_name(admin.id, "Selvi")
        web_admin = await uow.people.find("webchat", "admin")
        assert web_admin is not None
        await uow.people.set_flags(web_admin.id, is_admin=False)
    chat.users |= {SMS_ADMIN.name: SMS_ADMIN}
    await link_donor_phone(chat)


async def link_donor_phone(chat: Any) -> None:
    """donor-1 (web chat) links the phone donor-sms by /link and its 8-digit code."""
    chat.users |= {DONOR_SMS.name: DONOR_SMS}
    await chat.send("donor-1", "/link")
    code = re.search(r"\b(\d{8})\b", (await chat.expect("donor-1", "Your link code is")).text)
    assert code is not None
    await chat.run(f"""
        donor-sms > /link {code.group(1)}
        donor-sms < Linked: this chat is now member
    """)


SMS_REPORTED = """
    donor-sms > /dispute 1
    donor-sms < What went wrong with order #1? [Not delivered] [Wrong person] [Bad food] [Unsafe] [Other]
    donor-1   < What went wrong with order #1?
    donor-sms > [tap Bad food]
    donor-sms < Add a few words about what happened (or send skip).
    donor-1   < Add a few words about what happened (or send skip).
    # The same number typed twice is not the donor's words.
    donor-sms > [tap Bad food]
    donor-sms < Please write a few words about what happened, or send skip.
    donor-1   < Please write a few words about what happened, or send skip.
    donor-sms > The rice was spoiled
    donor-sms < Problem reported for order #1. Payment is on hold until an admin decides.
    donor-1   < Problem reported for order #1. Payment is on hold until an admin decides.
    rest-2    < A problem was reported with order #1: Bad food. Payment is on hold until an admin decides.
    worker-1  < A problem was reported with order #1: Bad food. Payment is on hold until an admin decides.
    admin-1   < Dispute #1 on order #1: Bad food. Meal ₹80, delivery ₹30, tip ₹10. Their words: The rice was spoiled [Settle] [Fee only]
    admin-1   > [tap Fee only]
    admin-1   < In one line, why Fee only?
    admin-1   > [tap Fee only]
    admin-1   < Please write the reason in a few words.
    admin-1   > Delivered hot; the kitchen packed it badly
    admin-1   < Decided: Fee only. Everyone is told.
    donor-sms < Order #1, an admin's decision (Fee only): the restaurant gets ₹0, the delivery worker ₹34, and ₹80 goes back [Appeal]
    donor-1   < Order #1, an admin's decision (Fee only): the restaurant gets ₹0, the delivery worker ₹34, and ₹80 goes back [Appeal]
    rest-2    < Order #1, an admin's decision (Fee only): the restaurant gets ₹0, the delivery worker ₹34, and ₹80 goes back [Appeal]
    worker-1  < Order #1, an admin's decision (Fee only): the restaurant gets ₹0, the delivery worker ₹34, and ₹80 goes back [Appeal]
    # Out of turn: the admin's decision typed again, a dispute about someone else's order, twice.
    admin-1   > [tap Fee only]
    admin-1   < That question has already been answered.
    worker-2  > /dispute 1
    worker-2  < Only the people of an order can report a problem with it.
    worker-1  > புகார் 1
    worker-1  < A problem with this order was already reported.
    rest-2    > dispute 99
    rest-2    < There is no such order.
"""


async def test_a_dispute_by_sms_split_fee_to_the_worker(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"donor-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            await chat.run(SMS_MEAL)
            await sms_cast(env)
            env["clock"].advance(minutes=10)
            await chat.run(SMS_REPORTED)
            # Veg biryani ₹80 + fee ₹30 + tip ₹10: the worker 2 400 + 1 000 tip, pool and infra 300
            # each, the meal's 8 000 back to the donor.
            worker = await _accounts(store, "worker-1", "sms", users["worker-1"].address)
            donor = await _person(store, "donor-1")
            assert await decision_postings(store) == {
                "settle": sorted([(worker, 2_400), (worker, 1_000), ("pool:guarantee", 300), ("fund:infra", 300),
                                  ("escrow:order:1", -4_000)]),
                "refund": sorted([(f"donor:{donor}", 8_000), ("escrow:order:1", -8_000)]),
            }
            await assert_ledger_invariants(store)


# In Tamil, by SMS: the options come numbered (5 சாப்பாடு சரியில்லை; 3 சாப்பாடு மட்டும்), and the
# transcript types the numbers shown, once in Tamil digits.
SMS_REPORTED_TAMIL = """
    donor-sms > புகார் 1
    donor-sms < ஆர்டர் #1-இல் என்ன பிரச்சனை?
    donor-1   < ஆர்டர் #1-இல் என்ன பிரச்சனை? [சாப்பாடு வரவில்லை]
    donor-sms > ௫
    donor-sms < என்ன நடந்தது என்று சில வார்த்தைகளில் எழுதுங்கள் (வேண்டாமென்றால் “தவிர்” என்று அனுப்புங்கள்).
    donor-1   < என்ன நடந்தது என்று சில வார்த்தைகளில் எழுதுங்கள்
    donor-sms > 5
    donor-sms < என்ன நடந்தது என்று சில வார்த்தைகளில் எழுதுங்கள், அல்லது “தவிர்” என்று அனுப்புங்கள்.
    donor-1   < என்ன நடந்தது என்று சில வார்த்தைகளில் எழுதுங்கள், அல்லது “தவிர்” என்று அனுப்புங்கள்.
    donor-sms > சாதம் கெட்டுப்போயிருந்தது
    donor-sms < ஆர்டர் #1 பற்றிய உங்கள் புகார் பதிவானது. அட்மின் முடிவு செய்யும் வரை பணம் ஹோல்டில் இருக்கும்.
    donor-1   < ஆர்டர் #1 பற்றிய உங்கள் புகார் பதிவானது.
    rest-2    < ஆர்டர் #1 பற்றி ஒரு புகார் வந்துள்ளது: சாப்பாடு சரியில்லை. அட்மின் முடிவு செய்யும் வரை பணம் ஹோல்டில் இருக்கும்.
    worker-1  < ஆர்டர் #1 பற்றி ஒரு புகார் வந்துள்ளது: சாப்பாடு சரியில்லை.
    admin-1   < புகார் #1, #1: சாப்பாடு சரியில்லை. சாப்பாடு ₹80+₹30+₹10. சாதம் கெட்டுப்போயிருந்தது
    admin-1   > 3
    admin-1   < “சாப்பாடு மட்டும்” – ஏன்? ஒரு வரியில் எழுதுங்கள்.
    admin-1   > 3
    admin-1   < காரணத்தைச் சில வார்த்தைகளில் எழுதுங்கள்.
    admin-1   > சமைத்துக் கொண்டுவந்தார்கள், ஆனால் சாப்பிட முடியவில்லை
    admin-1   < முடிவு: சாப்பாடு மட்டும். எல்லோருக்கும் சொல்லியாகிவிட்டது.
    donor-sms < ஆர்டர் #1 முடிவு (சாப்பாடு மட்டும்): ஹோட்டல் ₹80, டெலிவரி ₹0, திரும்ப ₹40. காரணம்: சமைத்துக் கொண்டுவந்தார்கள்
    donor-1   < ஆர்டர் #1 முடிவு (சாப்பாடு மட்டும்): ஹோட்டல் ₹80, டெலிவரி ₹0, திரும்ப ₹40. [மேல்முறையீடு]
    rest-2    < ஆர்டர் #1 முடிவு (சாப்பாடு மட்டும்): ஹோட்டல் ₹80, டெலிவரி ₹0, திரும்ப ₹40.
    worker-1  < ஆர்டர் #1 முடிவு (சாப்பாடு மட்டும்): ஹோட்டல் ₹80, டெலிவரி ₹0, திரும்ப ₹40.
    admin-1   > 3
    admin-1   < அந்தக் கேள்விக்கு ஏற்கனவே பதில் அளிக்கப்பட்டுவிட்டது.
    worker-1  > புகார் 1
    worker-1  < இந்த ஆர்டர் பற்றி ஏற்கனவே புகார் உள்ளது.
"""


async def test_a_dispute_by_sms_in_tamil_split_meal_to_the_restaurant(app_db: Path, tmp_path: Path) -> None:
    users = users_on({"donor-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, store = env["chat"], env["runtime"].store
            await chat.run(SMS_MEAL)
            await sms_cast(env)
            await speak_tamil(store, ("donor-1", "rest-2", "worker-1", "admin-1"), chat.users)
            env["clock"].advance(minutes=10)
            before = {name: len((await chat.fetch(name)).seen) for name in chat.cast()}
            await chat.run(SMS_REPORTED_TAMIL)
            for name in chat.cast():  # every message of the dispute is Tamil (the numbers and amounts aside)
                for message in (await chat.fetch(name)).seen[before[name] :]:
                    assert not latin_left(message.text), f"{name} got English: {message.text!r}"
            rest, donor = await _accounts(store, "rest-2", "sms", users["rest-2"].address), await _person(store, "donor-1")
            assert await decision_postings(store) == {
                "settle": sorted([(rest, 8_000), ("escrow:order:1", -8_000)]),
                "refund": sorted([(f"donor:{donor}", 4_000), ("escrow:order:1", -4_000)]),
            }
            await assert_ledger_invariants(store)


# --- an appeal against a refund the donor has already spent, by web chat ---------------------------

REFUNDED = """
    donor-1  > [tap Report a problem]
    donor-1  < What went wrong with order #1?
    donor-1  > [tap Not delivered]
    donor-1  < Add a few words about what happened (or send skip).
    donor-1  > skip
    donor-1  < Problem reported for order #1.
    rest-2   < A problem was reported with order #1: Not delivered.
    worker-1 < A problem was reported with order #1: Not delivered.
    admin    < Dispute #1 on order #1: Not delivered. [Refund all]
    admin-2  < Dispute #1 on order #1: Not delivered. [Refund all]
    admin    > [tap Refund all]
    admin    < In one line, why Refund all?
    admin    > The photo shows an empty street
    admin    < Decided: Refund all. Everyone is told.
    donor-1  < Order #1, an admin's decision (Refund all): the restaurant gets ₹0, the delivery worker ₹0, and ₹120 goes back
    rest-2   < Order #1, an admin's decision (Refund all): the restaurant gets ₹0, the delivery worker ₹0, and ₹120 goes back
    worker-1 < Order #1, an admin's decision (Refund all): the restaurant gets ₹0, the delivery worker ₹0, and ₹120 goes back
    rest-2   > [tap Appeal]
    rest-2   < Appeal recorded. Another admin will look at order #1.
    admin-2  < Dispute #1 on order #1: Not delivered. Meal ₹80, delivery ₹30, tip ₹10. Their words: - [Settle] [Meal only] [photo]
"""

# The donor spent all but ₹20 of the refund; the guarantee pool is empty.
POOL_SHORT = """
    admin-2  > [tap Meal only]
    admin-2  < In one line, why Meal only?
    admin-2  > The worker's photo shows the meal handed over
    admin-2  < Dispute #1: money from the first decision was already spent, and the guarantee pool is ₹100 short [Meal only]
"""

# Once the pool holds ₹100, the same decision goes through.
DECIDED = """
    admin-2  > [tap Meal only]
    admin-2  < In one line, why Meal only?
    admin-2  > The worker's photo shows the meal handed over
    admin-2  < Decided: Meal only. Everyone is told.
    donor-1  < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹0 goes back
    rest-2   < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹0 goes back
    worker-1 < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹0 goes back
    admin-2  > [tap Refund all]
    admin-2  < That question has already been answered.
"""


async def test_an_appeal_against_a_spent_refund_waits_for_the_pool_then_goes_through(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(MEAL)
    app_env["clock"].advance(minutes=10)
    async with store.uow() as uow:  # a second admin, so that the appeal has someone to go to
        second = await uow.people.get_or_create("webchat", "admin-2")
        await uow.people.set_flags(second.id, is_admin=True)
        await uow.people.set_name(second.id, "Second admin")
    await chat.run(REFUNDED)
    donor = f"donor:{await _person(store, 'donor-1')}"
    async with store.uow() as uow:  # stands for the donor spending the refund on other meals
        spent = await uow.ledger.balance(donor) - 2_000
        await uow.ledger.record(transfer("spend", "spent-elsewhere", donor, "external:payouts", spent), "test")
    await chat.run(POOL_SHORT)
    async with store.reader() as uow:
        dispute = await uow.disputes.get(1)
        assert await uow.ledger.existing("reverse", "order:1:dispute:reverse:1") is None  # nothing half-applied
    assert dispute is not None and dispute.status is DisputeStatus.APPEALED
    async with store.uow() as uow:
        await uow.ledger.record(transfer("pool", "pool-top-up", "external:deposits", POOL, 10_000), "test")
    await chat.run(DECIDED)
    rest = await _accounts(store, "rest-2")
    async with store.reader() as uow:
        lines = {ref: sorted(await uow.ledger.postings_of(await uow.ledger.existing(kind, ref)))  # type: ignore[arg-type]
                 for kind, ref in (("reverse", "order:1:dispute:reverse:1"), ("cover", "order:1:dispute:cover"),
                                   ("settle", "order:1:dispute:2"), ("refund", "order:1:refund:dispute:2"),
                                   ("repay", "order:1:dispute:repay"))}  # fmt: skip
        balances = {a: await uow.ledger.balance(a) for a in (donor, rest, POOL, "escrow:order:1")}
    assert lines == {
        "order:1:dispute:reverse:1": sorted([(donor, -2_000), ("escrow:order:1", 2_000)]),
        "order:1:dispute:cover": sorted([(POOL, -10_000), ("escrow:order:1", 10_000)]),
        "order:1:dispute:2": sorted([(rest, 8_000), ("escrow:order:1", -8_000)]),
        "order:1:refund:dispute:2": sorted([(donor, 4_000), ("escrow:order:1", -4_000)]),
        "order:1:dispute:repay": sorted([(donor, -4_000), (POOL, 4_000)]),
    }
    assert balances == {donor: 0, rest: 8_000, POOL: 4_000, "escrow:order:1": 0}
    await assert_ledger_invariants(store)


async def test_an_appeal_or_resolve_for_a_dispute_that_does_not_exist_says_so(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await speak_tamil(store, ("rest-2",))
    for user, payload in (("donor-1", "appeal:7"), ("admin", "resolve:9:refund"), ("rest-2", "appeal:7")):
        await chat.post(user, json={"button": payload})
    await chat.drain()
    await chat.run("""
        donor-1  < There is no such dispute.
        admin    < There is no such dispute.
        rest-2   < அப்படி ஒரு புகார் இல்லை.
    """)
