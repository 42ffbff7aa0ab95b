"""The bank statement sent as a document on the web chat (multipart field "document") and on
WhatsApp (a Twilio MediaUrl of a CSV file, fetched with the real SDK's credentials from the local
fake): imported like `ketpaar deposits import`, once; from anyone but an admin refused; huge,
binary, wrongly typed or wrongly laid out files answered politely, and nothing moves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

from bot.twilio_common import InboundWindow, TwilioConfig
from core.ledger.model import donor_account
from core.payments import topups
from tests.conftest import running_app
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.helpers import assert_ledger_invariants
from tests.test_twilio import PUBLIC_URL, WA_FROM, config, fake, fake_server
from webhooks.twilio_routes import twilio_router

__all__ = ["config", "fake", "fake_server"]  # fixtures used here
TREASURER_WA = "whatsapp:+919800000900"


async def reference_for_donor(runtime: Any, paise: int) -> tuple[int, str]:
    """donor-1 asks to top up; return their id and the UPI reference."""
    async with runtime.store.uow() as uow:
        donor = await uow.people.find("webchat", "donor-1")
        return donor.id, (await topups.request_topup(uow, donor, paise)).reference


async def balance_of(runtime: Any, person_id: int) -> int:
    async with runtime.store.reader() as uow:
        return await uow.ledger.balance(donor_account(person_id))


def statement(reference: str, txn: str) -> bytes:
    return f"date,amount,reference,txn_id\n2026-11-23,250.00,UPI/{reference},{txn}\n2026-11-23,99,no ref,{txn}X\n".encode()


# --- web chat -----------------------------------------------------------------------------------


@pytest.fixture
async def web(app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with running_app(app_db, tmp_path / "var") as env:
        yield env


async def upload(env: dict[str, Any], user: str, data: bytes, name: str = "statement.csv",
                 mime: str = "text/csv") -> httpx.Response:  # fmt: skip
    response = await env["client"].post(f"/webchat/{user}/messages", files={"document": (name, data, mime)})
    await env["runtime"].processor.drain()
    return response


async def test_on_the_web_chat_a_treasurer_uploads_the_statement_once_and_a_donor_cannot(web: dict[str, Any]) -> None:
    runtime, chat = web["runtime"], web["chat"]
    donor_id, reference = await reference_for_donor(runtime, 25_000)
    before = await balance_of(runtime, donor_id)
    assert (await upload(web, "donor-1", statement(reference, "WC0001"))).status_code == 202
    await chat.run("""
        donor-1  < Only an admin can import bank statements.
    """)
    assert await balance_of(runtime, donor_id) == before
    assert (await upload(web, "admin", statement(reference, "WC0001"))).status_code == 202
    assert (await upload(web, "admin", statement(reference, "WC0001"))).status_code == 202  # sent twice
    await chat.run("""
        admin    < Statement imported: 1 credited (₹250), 1 to assign.
        donor-1  < ₹250
        admin    < Statement imported: 0 credited (₹0), 0 to assign.
    """)
    assert await balance_of(runtime, donor_id) == before + 25_000
    await assert_ledger_invariants(runtime.store)


async def test_on_the_web_chat_hostile_files_get_polite_answers_and_nothing_moves(web: dict[str, Any]) -> None:
    runtime, chat = web["runtime"], web["chat"]
    donor_id, reference = await reference_for_donor(runtime, 25_000)
    before = await balance_of(runtime, donor_id)
    huge = await upload(web, "admin", b"date,amount,reference,txn_id\n" + b"x" * (5 * 1024 * 1024 + 10))
    assert huge.status_code == 413
    assert huge.json()["message"] == "I could not take that file: send the bank statement as a CSV file of at most 5 MB."
    pdf = await upload(web, "admin", b"%PDF-1.7 ...", name="statement.pdf", mime="application/pdf")
    assert pdf.status_code == 415 and "CSV file" in pdf.json()["message"]
    assert (await upload(web, "admin", bytes(range(256)) * 4)).status_code == 202  # binary, called CSV
    assert (await upload(web, "admin", b"Name,Phone\nMurugan,98400\n")).status_code == 202  # another layout
    await chat.run("""
        admin    < I could not read that file as a bank statement
        admin    < I could not read that file as a bank statement
    """)
    assert await balance_of(runtime, donor_id) == before
    await assert_ledger_invariants(runtime.store)


# --- WhatsApp -----------------------------------------------------------------------------------


@pytest.fixture
async def wa(app_db: Path, tmp_path: Path, config: TwilioConfig, fake: FakeTwilio) -> AsyncIterator[dict[str, Any]]:
    settings = {"admins": f"webchat:admin,whatsapp:{TREASURER_WA}"}
    async with running_app(app_db, tmp_path / "var", settings=settings) as env:
        app = FastAPI()
        app.include_router(twilio_router(lambda request: env["runtime"], config, window=InboundWindow()))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as client:
            yield {**env, "twilio": client, "fake": fake}


async def whatsapp_in(env: dict[str, Any], address: str, **fields: str) -> httpx.Response:
    """A WhatsApp message posted and signed as Twilio does."""
    form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID, "From": address, "To": WA_FROM,
            "NumMedia": "0", **fields}  # fmt: skip
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/webhooks/twilio/whatsapp", form)
    response = await env["twilio"].post("/webhooks/twilio/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
    await env["runtime"].processor.drain()
    return response


async def replies(env: dict[str, Any], address: str) -> list[str]:
    async with env["runtime"].store.reader() as uow:
        return [p["text"] for _, p in await uow.outbox.for_recipient("whatsapp", address, 0)]


async def test_on_whatsapp_a_treasurer_sends_the_statement_and_hostile_files_are_refused_politely(wa: dict[str, Any]) -> None:
    runtime, fake_twilio = wa["runtime"], wa["fake"]
    donor_id, reference = await reference_for_donor(runtime, 25_000)
    before = await balance_of(runtime, donor_id)
    url = fake_twilio.add_media(statement(reference, "WA0001"), "text/csv")
    stranger = "whatsapp:+919800000901"
    assert (await whatsapp_in(wa, stranger, MediaUrl0=url, MediaContentType0="text/csv", NumMedia="1")).status_code == 200
    assert await balance_of(runtime, donor_id) == before
    assert any("Only an admin can import bank statements" in t for t in await replies(wa, stranger))
    for _ in range(2):  # Twilio's document sent twice by the treasurer: credited once
        assert (await whatsapp_in(wa, TREASURER_WA, MediaUrl0=url, MediaContentType0="text/csv", NumMedia="1")).status_code == 200
    assert await balance_of(runtime, donor_id) == before + 25_000
    texts = await replies(wa, TREASURER_WA)
    assert texts[-2].startswith("Statement imported: 1 credited (₹250), 1 to assign.") and "WA0001X" in texts[-2]
    assert texts[-1].startswith("Statement imported: 0 credited (₹0), 0 to assign.")
    # A PDF, a file larger than 5 MB, a binary file called CSV: polite answers, nothing moves.
    pdf = fake_twilio.add_media(b"%PDF-1.7", "application/pdf")
    huge = fake_twilio.add_media(b"date,amount,reference,txn_id\n" + b"1" * (5 * 1024 * 1024 + 10), "text/csv")
    binary = fake_twilio.add_media(bytes(range(256)) * 4, "text/csv")
    for media, kind in ((pdf, "application/pdf"), (huge, "text/csv"), (binary, "text/csv")):
        assert (await whatsapp_in(wa, TREASURER_WA, MediaUrl0=media, MediaContentType0=kind, NumMedia="1")).status_code == 200
    texts = (await replies(wa, TREASURER_WA))[-3:]
    assert texts[0] == texts[1] == "I could not take that file: send the bank statement as a CSV file of at most 5 MB."
    assert texts[2].startswith("I could not read that file as a bank statement")
    assert await balance_of(runtime, donor_id) == before + 25_000
    await assert_ledger_invariants(runtime.store)
