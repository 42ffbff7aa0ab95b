"""Payouts by Stripe Connect (KETPAAR_STRIPE_CONNECT=true), with the real stripe SDK against the
local fake: a worker links a connected account by chat and gets the onboarding link; the day's
run pays their line by a Transfer (idempotency key per line) instead of the bank file, but only once
Stripe's account.updated webhook said the account is ready (until then the money waits on the
balance and the worker is told once what is missing); a transfer Stripe refuses fails the line and
the money returns to the worker's balance, paid at a later run."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.ledger.model import DEPOSITS, PAYOUTS, transfer, worker_account
from core.payments.connect import pay_transfers
from core.payments.payouts import batch_csv
from core.schedule.jobs import run_payouts
from tests.conftest import running_app
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, event, signed
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_cards import card_env, fake_stripe, post_event
from tests.test_tamil_transcript import latin_left

__all__ = ["card_env", "fake_stripe"]  # fixtures used here


@pytest.fixture
async def connect_env(app_db: Path, tmp_path: Path, fake_stripe: FakeStripe) -> AsyncIterator[dict[str, Any]]:
    """The app with Stripe configured and Connect payouts on."""
    settings = {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET, "stripe_connect": True,
                "stripe_api_base": fake_stripe.base_url, "stripe_timeout": 1.0}  # fmt: skip
    async with running_app(app_db, tmp_path / "var", settings=settings) as env:
        env["stripe"] = fake_stripe
        yield env


async def worker_earns(env: dict[str, Any], paise: int) -> str:
    """worker-1's settled earnings grow by `paise`; return their ledger account."""
    async with env["runtime"].store.uow() as uow:
        person = await uow.people.find("webchat", "worker-1")
        account = worker_account((await uow.workers.by_person(person.id)).id)
        await uow.ledger.record(transfer("settle", f"test-earn-{paise}-{uow.now}", DEPOSITS, account, paise), "test")
    return account


async def balance(env: dict[str, Any], account: str) -> int:
    async with env["runtime"].store.reader() as uow:
        return await uow.ledger.balance(account)


LINK = """
    worker-1 > /payout stripe
    worker-1 < Pay you at your Stripe account? Check it: money sent to a wrong account is hard to get back. [Confirm] [Cancel]
    worker-1 > [tap Confirm]
    worker-1 < Saved. Your payouts go to your Stripe account.
"""


async def test_a_worker_links_stripe_and_is_paid_by_transfer_once_onboarded(connect_env: dict[str, Any]) -> None:
    chat, stripe, runtime = connect_env["chat"], connect_env["stripe"], connect_env["runtime"]
    await chat.run(LINK)
    box = await chat.fetch("worker-1")
    assert "Finish setting up your Stripe account here (your bank details stay with Stripe): " in box.seen[-1]["text"]
    assert "/setup/e/acct_" in box.seen[-1]["text"]
    [acct] = stripe.accounts
    assert ("POST", "/v1/accounts", "ketpaar:person:") == next(
        (m, p, (k or "")[:15]) for m, p, k in stripe.calls if p == "/v1/accounts")  # keyed per person: one account
    # Asking again sends a fresh link for the same account (no change, so nothing to confirm).
    await chat.run("""
        worker-1 > /payout stripe
        worker-1 < Saved. Your payouts go to your Stripe account.
    """)
    assert list(stripe.accounts) == [acct]

    # Day 1: Stripe has said nothing yet (onboarding not finished): no line, nothing fails, the money
    # stays in the worker's earnings, and they are told once what is missing.
    account = await worker_earns(connect_env, 20_000)
    transfers = runtime.services.transfers
    report = await run_payouts(runtime.store, "2026-11-23", transfers=transfers)
    assert report.lines == [] and [(a, m) for _p, a, m in report.waiting] == [(account, 20_000)]
    await chat.run("""
        worker-1 < ₹200 is ready for you, but your Stripe account cannot receive it yet: its setup is not finished
    """)
    assert await balance(connect_env, account) == 20_000 and await balance(connect_env, PAYOUTS) == 0
    # Day 2: still nothing from Stripe: still waiting, not told again.
    assert (await run_payouts(runtime.store, "2026-11-24", transfers=transfers)).waiting
    await chat.nothing_for("worker-1")

    # The form is in, but Stripe has not enabled payouts yet: told once what is missing now.
    assert (await post_event(connect_env, event("account.updated", stripe.onboard(acct, enabled=False)))).status_code == 200
    await run_payouts(runtime.store, "2026-11-25", transfers=transfers)
    await chat.run("""
        worker-1 < ₹200 is ready for you, but Stripe has not enabled payouts on your account yet
    """)
    assert stripe.transfers == [] and await balance(connect_env, account) == 20_000

    # Stripe enables the account; a redelivery and an older event change nothing after it.
    ready = event("account.updated", stripe.onboard(acct))
    assert (await post_event(connect_env, ready)).json() == {"received": True, "duplicate": False}
    body, headers = signed(ready, at=int(time.time()) - 5)  # Stripe delivering it again, newly signed
    assert (await post_event(connect_env, ready, headers, body)).json() == {"received": True, "duplicate": True}
    stale = event("account.updated", {**stripe.accounts[acct], "payouts_enabled": False})
    stale["created"] -= 3600
    await post_event(connect_env, stale)
    async with runtime.store.reader() as uow:
        assert (await uow.payments.connect_ready(acct))[:2] == (True, "")  # type: ignore[index]
        updates = [e.data for e in await chain_events(uow, "payout.connect_account")]
    flags = ("charges_enabled", "payouts_enabled", "details_submitted", "transfers_active")
    assert updates == [{"person_id": updates[0]["person_id"], "ready": False, "missing": "review", **dict.fromkeys(flags, False),
                        "details_submitted": True},
                       {"person_id": updates[0]["person_id"], "ready": True, "missing": "", **dict.fromkeys(flags, True)}]  # fmt: skip
    assert updates[0]["person_id"] is not None

    # Day 6: ready; the transfer is slow to answer (the SDK retries with the same key): one transfer.
    stripe.stall["/v1/transfers"] = 1.5
    report = await run_payouts(runtime.store, "2026-11-28", transfers=transfers)
    [line] = report.lines
    assert batch_csv(report.lines).splitlines()[1:] == []  # not in the bank's file
    assert [(t["destination"], t["amount"], t["currency"]) for t in stripe.transfers] == [(acct, 20_000, "inr")]
    keys = [k for m, p, k in stripe.calls if p == "/v1/transfers"]
    assert len(keys) >= 2 and set(keys) == {f"ketpaar:payout:line:{line.id}"}  # timed out, asked again, same key
    await chat.run(f"""
        worker-1 < Payout: ₹200 is being sent to your Stripe account
        worker-1 < Stripe has sent your payout of ₹200 (reference {line.reference}).
    """)
    assert await balance(connect_env, account) == 0 and await balance(connect_env, PAYOUTS) == 20_000
    async with runtime.store.reader() as uow:
        assert (await uow.payments.line(line.id)).status.value == "paid"  # type: ignore[union-attr]
    # The run again that day, and the transfer job again: nothing more is sent.
    again = await run_payouts(runtime.store, "2026-11-28", transfers=transfers)
    assert again.lines == [] and len(stripe.transfers) == 1
    await assert_ledger_invariants(runtime.store)


async def test_a_transfer_stripe_refuses_fails_the_line_and_a_line_to_an_account_no_longer_ready_waits(
        connect_env: dict[str, Any]) -> None:  # fmt: skip
    chat, stripe, runtime = connect_env["chat"], connect_env["stripe"], connect_env["runtime"]
    await chat.run(LINK)
    await chat.fetch("worker-1")
    [acct] = stripe.accounts
    await post_event(connect_env, event("account.updated", stripe.onboard(acct)))
    transfers = runtime.services.transfers
    assert transfers is not None

    # Stripe closes the account without our hearing of it: the transfer is refused, the line fails.
    account = await worker_earns(connect_env, 15_000)
    stripe.disable(acct)
    await run_payouts(runtime.store, "2026-11-23", transfers=transfers)
    await chat.run("""
        worker-1 < Payout: ₹150 is being sent to your Stripe account
        worker-1 < Stripe could not send ₹150 to you. It is back in your earnings and goes out at the next payout
    """)
    assert await balance(connect_env, account) == 15_000 and stripe.transfers == []
    # The next run does not fail a new line every day: it waits for Stripe to say the account is ready.
    assert (await run_payouts(runtime.store, "2026-11-22", transfers=transfers)).waiting
    await chat.run("""
        worker-1 < ₹150 is ready for you, but Stripe has not enabled payouts on your account yet
    """)
    assert stripe.transfers == []

    # A line made while ready, then Stripe says the account is not: the line waits (pending, not failed).
    await post_event(connect_env, event("account.updated", stripe.onboard(acct)))
    report = await run_payouts(runtime.store, "2026-11-24")  # the run without the transfer step
    [line] = report.lines
    await post_event(connect_env, event("account.updated", stripe.disable(acct)))
    assert await pay_transfers(runtime.store, transfers) == {"waiting": 1}
    assert await pay_transfers(runtime.store, transfers) == {"waiting": 1}
    await chat.run("""
        worker-1 < Payout: ₹150 is being sent to your Stripe account
        worker-1 < ₹150 is ready for you, but Stripe has not enabled payouts on your account yet
    """)
    async with runtime.store.reader() as uow:
        assert (await uow.payments.line(line.id)).status.value == "pending"  # type: ignore[union-attr]
    await post_event(connect_env, event("account.updated", stripe.onboard(acct)))
    assert await pay_transfers(runtime.store, transfers) == {"sent": 1}
    assert [(t["destination"], t["amount"]) for t in stripe.transfers] == [(acct, 15_000)]
    await chat.skip_to("worker-1", "Stripe has sent your payout of ₹150")
    assert await balance(connect_env, account) == 0
    await assert_ledger_invariants(runtime.store)


async def test_account_updated_for_an_account_nobody_uses_is_recorded_and_changes_nothing(
        connect_env: dict[str, Any]) -> None:  # fmt: skip
    stranger = {"id": "acct_1nobody0000000", "object": "account", "details_submitted": True, "payouts_enabled": True,
                "charges_enabled": True, "capabilities": {"transfers": "active"}}  # fmt: skip
    assert (await post_event(connect_env, event("account.updated", stranger))).status_code == 200
    body, headers = signed(event("account.updated", stranger))
    forged = {**headers, "Stripe-Signature": headers["Stripe-Signature"].replace("v1=", "v1=00")}
    assert (await connect_env["client"].post("/webhooks/stripe", content=body, headers=forged)).status_code == 400
    async with connect_env["runtime"].store.reader() as uow:
        assert [e.data for e in await chain_events(uow, "payout.connect_account")] == [
            {"person_id": None, "ready": True, "missing": "", "charges_enabled": True, "payouts_enabled": True,
             "details_submitted": True, "transfers_active": True}]  # fmt: skip
    await assert_ledger_invariants(connect_env["runtime"].store)


async def test_without_connect_stripe_payouts_are_not_offered(card_env: dict[str, Any]) -> None:
    await card_env["chat"].run("""
        worker-1 > /payout stripe
        worker-1 < Payouts by Stripe are not offered here. Send your UPI id, or your account number and IFSC.
        donor-1  > /payout stripe
        donor-1  < Payout details are for registered restaurants and delivery workers.
    """)
    assert card_env["stripe"].accounts == {}


async def test_a_tamil_worker_links_stripe_in_tamil(connect_env: dict[str, Any]) -> None:
    async with connect_env["runtime"].store.uow() as uow:
        person = await uow.people.find("webchat", "worker-1")
        await uow.people.set_language(person.id, "ta")
    await connect_env["chat"].run("""
        worker-1 > /payout ஸ்ட்ரைப்
        worker-1 < உங்கள் ஸ்ட்ரைப் கணக்கு
        worker-1 > [press payto:yes]
        worker-1 < உங்கள் ஸ்ட்ரைப் கணக்கை இங்கே அமைத்து முடியுங்கள்
    """)
    # Money waits for an account Stripe has not enabled: what is missing, in Tamil, once for each thing.
    await worker_earns(connect_env, 20_000)
    runtime, stripe = connect_env["runtime"], connect_env["stripe"]
    await run_payouts(runtime.store, "2026-11-23", transfers=runtime.services.transfers)
    [acct] = stripe.accounts
    await post_event(connect_env, event("account.updated", stripe.onboard(acct, enabled=False)))
    await run_payouts(runtime.store, "2026-11-24", transfers=runtime.services.transfers)
    await connect_env["chat"].run("""
        worker-1 < உங்களுக்கு ₹200 தயார், ஆனால் உங்கள் ஸ்ட்ரைப் கணக்கு இன்னும் அதைப் பெற முடியாது
        worker-1 < உங்களுக்கு ₹200 தயார், ஆனால் ஸ்ட்ரைப் உங்கள் கணக்கில் பணம் பெறுவதை இன்னும் இயக்கவில்லை
    """)
    box = await connect_env["chat"].fetch("worker-1")
    for message in box.seen:
        text = re.sub(r"https?://\S+", " ", message["text"])
        assert latin_left(text) == [], message["text"]
    assert len(connect_env["stripe"].accounts) == 1
