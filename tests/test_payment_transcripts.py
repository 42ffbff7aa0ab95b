"""By chat, in English and Tamil: a donor tops up by UPI and the imported bank statement credits
them; a worker registers a UPI id and is paid out; the treasurer marks the batch paid. The money
that came in equals the balances plus the money that went out, to the paisa."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.ledger.model import PAYOUTS
from core.schedule.jobs import run_payouts, settle_due
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants
from tests.test_meal_transcript import MEAL, SETTLED
from tests.test_tamil_transcript import ALLOWED, MEAL_BY_PAYLOAD, USERS
from webhooks import money_cli

UPI = {"upi_vpa": "ketpaar@okhdfcbank", "upi_name": "Ketpaar Food Coop", "payout_minimum": 1_000}


@pytest.fixture
async def upi_app(app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The app with the cooperative's UPI id set and a ₹10 payout minimum."""
    async with running_app(app_db, tmp_path / "var", settings=UPI) as env:
        yield env


def reference_in(message: dict[str, Any]) -> str:
    found = re.search(r"KP[0-9A-Z]{8}", message["text"])
    assert found, message["text"]
    return found.group(0)


async def import_statement(env: dict[str, Any], tmp_path: Path, rows: str) -> None:
    """The treasurer runs `ketpaar deposits import statement.csv` (an HDFC export)."""
    path = tmp_path / "statement.csv"
    path.write_text("Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n" + rows)
    assert await money_cli.import_statement(env["runtime"].settings, path) == 0


async def money_in_equals_balances_plus_out(env: dict[str, Any]) -> None:
    async with env["runtime"].store.reader() as uow:
        balances = await uow.ledger.balances()
    came_in = -balances["external:deposits"]
    assert came_in == sum(v for a, v in balances.items() if not a.startswith("external:")) + balances.get(PAYOUTS, 0)
    await assert_ledger_invariants(env["runtime"].store)


PAYOUT = """
    worker-1 > /payout murugan@okaxis
    worker-1 < Pay you at m***n@okaxis? Check it: money sent to a wrong account is hard to get back. [Confirm] [Cancel]
    worker-1 > [tap Confirm]
    worker-1 < Saved. Your payouts go to m***n@okaxis.
"""


async def test_a_donor_tops_up_by_upi_and_a_worker_is_paid_out(upi_app: dict[str, Any], tmp_path: Path) -> None:
    chat, runtime = upi_app["chat"], upi_app["runtime"]
    await chat.send("donor-1", "/topup 500")
    first = await chat.expect("donor-1", "To add ₹500 to your balance [photo]")
    reference = reference_in(first)
    qr = await chat.client.get(first["image_url"], headers=await chat.headers("donor-1"))  # the QR code, only for them
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png" and qr.content.startswith(b"\x89PNG")
    someone_else = first["image_url"].replace("donor-1", "worker-1")
    assert (await chat.client.get(someone_else, headers=await chat.headers("worker-1"))).status_code == 403
    await chat.expect("donor-1", f"upi://pay?pa=ketpaar@okhdfcbank&pn=Ketpaar%20Food%20Coop&am=500.00&cu=INR&tn={reference}")
    # The donor pays in their UPI app; the bank's statement shows it; the treasurer imports it (twice: once counts).
    row = f"23/11/26,UPI-RAVI-ravi@okaxis-{reference}-KETPAAR,0000433512345678,23/11/26,,500.00,\"10,500.00\"\n"
    await import_statement(upi_app, tmp_path, row + row)
    await chat.run(f"""
        donor-1  < Your UPI payment of ₹500 (reference {reference}) arrived: it is in your balance. Thank you!
        donor-1  > /balance
        donor-1  < Your balance: ₹1,500
    """)
    # A meal, settled; the worker says where to be paid; the evening run pays them.
    await chat.run(MEAL)
    upi_app["clock"].advance(minutes=30)
    assert await settle_due(runtime.store) == 1
    await chat.run(SETTLED + PAYOUT)
    await chat.send("worker-1", "/earnings")
    earnings = await chat.expect("worker-1", "Your earnings: settled today ₹34, this week ₹34, pool top-ups this week ₹0.")
    assert earnings["text"].endswith("\nNext payout: ₹34 at 18:00.")
    upi_app["clock"].advance(hours=6)  # 6:30 pm in Chennai
    assert (await run_payouts(runtime.store)).batch is not None
    assert (await run_payouts(runtime.store)).batch is None  # the scheduler's next look the same day
    await chat.run("""
        worker-1 < Payout: ₹34 is being sent to m***n@okaxis (reference KETPAAR-B1-L1).
        rest-2   < ₹80 is ready to be paid to you, but I do not know where. Send /payout with your UPI id or bank account.
        admin    > /paid 1 UTR20261123001
        admin    < Payout batch 1 is marked paid (UTR20261123001).
        worker-1 < The bank has paid your payout of ₹34 (reference KETPAAR-B1-L1).
        worker-1 > /earnings
        worker-1 < Waiting to be paid: ₹0
        admin    > /paid 1 UTR20261123001
        admin    < Payout batch 1 was already marked paid.
        donor-1  > /paid 1 UTR1
        donor-1  < Only an admin can do that.
    """)
    out = tmp_path / "batch.csv"
    assert await money_cli.export_batch(runtime.settings, 1, out) == 0
    assert list(csv.reader(out.read_text().splitlines())) == [
        ["name", "method", "account_number", "ifsc", "upi_id", "amount", "reference"],
        ["Murugan", "upi", "", "", "murugan@okaxis", "34.00", "KETPAAR-B1-L1"],
    ]
    await money_in_equals_balances_plus_out(upi_app)


async def test_without_a_upi_id_configured_a_top_up_is_politely_not_available(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        donor-1  > /topup 500
        donor-1  < Top-ups by UPI are not available yet. An admin can record cash with /deposit.
    """)


async def test_hostile_top_ups_and_payout_details_get_polite_answers(upi_app: dict[str, Any]) -> None:
    await upi_app["chat"].run("""
        donor-1  > /topup -500
        donor-1  < Send /topup and an amount between ₹10 and ₹1,00,000, for example /topup 500.
        donor-1  > /topup 1e9
        donor-1  < Send /topup and an amount between ₹10 and ₹1,00,000
        donor-1  > /topup 5
        donor-1  < Send /topup and an amount between ₹10 and ₹1,00,000
        donor-1  > /payout donor@okaxis
        donor-1  < Payout details are for registered restaurants and delivery workers.
        worker-1 > /payout
        worker-1 < You have no payout details yet.
        worker-1 > /payout 12345 SBIN0001234
        worker-1 < An account number has 9 to 18 digits and nothing else.
        worker-1 > /payout 50100123456789 SBIN1001234
        worker-1 < That IFSC is not right
        worker-1 > /payout m@@x
        worker-1 < That is not a UPI id.
        worker-1 > /payout 50100123456789 HDFC0001234
        worker-1 < Pay you at XXXXXX6789 · HDFC0001234? [Confirm] [Cancel]
        worker-1 > [tap Cancel]
        worker-1 < Nothing was changed.
    """)
    await upi_app["chat"].post("worker-1", json={"button": "payto:yes:forged"})  # a made-up confirmation
    await upi_app["chat"].drain()
    await upi_app["chat"].run("""
        worker-1 < That button is no longer active.
        worker-1 > /payout
        worker-1 < You have no payout details yet.
        donor-1  > /assign 0000433512345678 #1
        donor-1  < Only an admin can do that.
        admin    > /assign 0000433512345678 #1
        admin    < No imported bank credit has the id 0000433512345678.
        admin    > /unmatched
        admin    < Every imported bank credit is matched.
    """)


async def test_the_same_in_tamil(upi_app: dict[str, Any], tmp_path: Path) -> None:
    chat, runtime = upi_app["chat"], upi_app["runtime"]
    async with runtime.store.uow() as uow:
        for address in USERS:
            person = await uow.people.find("webchat", address)
            await uow.people.set_language(person.id, "ta")
    await chat.send("donor-1", "டாப்அப் 500")
    first = await chat.expect("donor-1", "உங்கள் பேலன்ஸில் ₹500 சேர்க்க, Ketpaar Food Coop-க்கு யுபிஐ மூலம் பணம் அனுப்புங்கள் [photo]")
    reference = reference_in(first)
    link = await chat.expect("donor-1", f"&tn={reference}")
    row = f"23/11/26,UPI-RAVI-ravi@okaxis-{reference}-KETPAAR,0000433599999999,23/11/26,,500.00,\"10,500.00\"\n"
    await import_statement(upi_app, tmp_path, row)
    paid = await chat.expect("donor-1", f"உங்கள் யுபிஐ பணம் ₹500 (குறிப்பு எண் {reference}) வந்துவிட்டது")
    await chat.run(MEAL_BY_PAYLOAD)
    upi_app["clock"].advance(minutes=30)
    assert await settle_due(runtime.store) == 1
    await chat.run("""
        rest-1   < ஆர்டர் #1: ₹55 இப்போது உங்களுக்கு வரவு வைக்கப்பட்டது.
        worker-1 < வேலை #1: ₹24 இப்போது உங்கள் வருமானத்தில் சேர்ந்தது.
        worker-1 > /payout murugan@okaxis
        worker-1 < உங்கள் பணத்தை m***n@okaxis-க்கு அனுப்பலாமா? [உறுதிசெய்]
        worker-1 > [tap உறுதிசெய்]
        worker-1 < சேமிக்கப்பட்டது. உங்கள் பணம் m***n@okaxis-க்கு அனுப்பப்படும்.
        worker-1 > வருமானம்
        worker-1 < உங்கள் வருமானம்: இன்று வந்தது ₹24, இந்த வாரம் ₹24
    """)
    upi_app["clock"].advance(hours=6)
    assert (await run_payouts(runtime.store)).batch is not None
    await chat.run("""
        worker-1 < பணம்: ₹24 m***n@okaxis-க்கு அனுப்பப்படுகிறது (குறிப்பு எண் KETPAAR-B1-L1).
        rest-1   < உங்களுக்கு ₹55 அனுப்பத் தயார், ஆனால் எங்கே அனுப்புவது என்று தெரியவில்லை.
        admin    > /paid 1 UTR20261123001
        admin    < பணத் தொகுப்பு 1 அனுப்பப்பட்டதாகப் பதிவானது (UTR20261123001).
        worker-1 < வங்கி உங்களுக்கு ₹24 அனுப்பிவிட்டது (குறிப்பு எண் KETPAAR-B1-L1).
    """)
    allowed = re.compile(ALLOWED.pattern + r"|Ketpaar Food Coop|upi://\S+|KP[0-9A-Z]{8}|m\*\*\*n@okaxis|KETPAAR-B\d+-L\d+|UTR\d+")
    for message in (first, paid):
        assert re.findall(r"[A-Za-z]{2,}", allowed.sub(" ", message["text"])) == [], message["text"]
    assert link["text"].startswith("upi://pay?")
    await money_in_equals_balances_plus_out(upi_app)


TOPUP_ON = {
    "telegram": """
        donor-1  > /topup 500
        donor-1  < To add ₹500 to your balance, pay by UPI to Ketpaar Food Coop: tap the link below or scan the QR code. [photo]
        donor-1  < upi://pay?pa=ketpaar@okhdfcbank&pn=Ketpaar%20Food%20Coop&am=500.00&cu=INR&tn=KP
    """,
    # SMS carries no image: the link, and the reference spelled out to read or type.
    "sms": """
        donor-1  > /topup 500
        donor-1  < To add ₹500, pay by UPI to Ketpaar Food Coop with the link below. Reference: KP
        donor-1  < upi://pay?pa=ketpaar@okhdfcbank&pn=Ketpaar%20Food%20Coop&am=500.00&cu=INR&tn=KP
    """,
}
TOPUP_ON["whatsapp"] = TOPUP_ON["telegram"]


@pytest.mark.parametrize("channel", sorted(TOPUP_ON))
async def test_a_top_up_on_every_channel(channel: str, app_db: Path, tmp_path: Path) -> None:
    from tests.channel_chat import channel_app, users_on
    from tests.test_every_channel import fakes

    with fakes(channel) as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users_on(channel), telegram=telegram, twilio=twilio,
                               settings=UPI) as env:  # fmt: skip
            await env["chat"].run(TOPUP_ON[channel])
