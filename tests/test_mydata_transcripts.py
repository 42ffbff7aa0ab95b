"""/mydata and /forget by chat, in English and Tamil, on the web chat and by SMS; and the hostile
cases: a replayed, expired, stolen or another person's download link, /forget twice, a replayed
Erase tap, /forget with an open order."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from core.ledger import service as money
from core.ledger.model import DEPOSITS, POOL, transfer, worker_account
from core.members.model import Approval
from core.payments import payouts
from core.payments.model import parse_details
from core.schedule.jobs import end_erasures
from core.shared.geo import encode
from tests.channel_chat import RecordingTwilio, channel_app, users_on
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_every_channel import fakes
from tests.test_forget import traces
from tests.test_tamil_transcript import latin_left
from tests.test_timeout_transcripts import ORDERED

URL = re.compile(r"https?://\S+")


def link_in(message: dict[str, Any] | Any) -> str:
    """The path and query of the download link a message carries."""
    text = message["text"] if isinstance(message, dict) else message.text
    found = URL.search(text)
    assert found, f"no link in {text!r}"
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


async def download(client: httpx.AsyncClient, link: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Open the link (a page with a button), then press the button (the file)."""
    headers = headers or {}
    page = await client.get(link, headers=headers)
    token = link.split("t=", 1)[1]
    if page.status_code != 200:
        return page
    assert 'name="t"' in page.text and "Download my data" in page.text or "டவுன்லோட்" in page.text
    return await client.post("/mydata", content=f"t={token}", headers={**headers,
                             "content-type": "application/x-www-form-urlencoded"})  # fmt: skip


async def deposit(env: dict[str, Any], channel: str, address: str, amount: int) -> int:
    """Put money on someone's donor balance (as an admin's recorded deposit would); their id."""
    async with env["runtime"].store.uow() as uow:
        person = await uow.people.get_or_create(channel, address)
        await money.record_deposit(uow, person.id, amount, f"dep-{address}", "person:1", "cash")
    return int(person.id)


async def test_mydata_then_forget_on_the_web_chat_with_every_hostile_link(app_env: dict[str, Any]) -> None:
    chat, client, store = app_env["chat"], app_env["client"], app_env["runtime"].store
    person_id = await deposit(app_env, "webchat", "kavitha", 50_000)
    async with store.uow() as uow:
        await uow.people.set_name(person_id, "Kavitha Raman")
    await chat.run(f"""
        kavitha  > /mydata
        kavitha  < Ketpaar holds about you (#{person_id}): 0 orders, 1 messages, 0 photos, balance ₹500.
        kavitha  < Download all of it as a file (works once, for 30 minutes): http
    """)
    link = link_in((await chat.fetch("kavitha")).seen[-1])
    ravi = {"Authorization": f"Bearer {(await chat.headers('ravi'))['Authorization'][7:]}"}
    # Another person's session, and no session at all, cannot open a web-chat link.
    assert (await download(client, link, ravi)).status_code == 403
    assert (await download(client, link)).status_code == 403
    own = await chat.headers("kavitha")
    got = await download(client, link, own)
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    data = json.loads(got.content)
    assert data["person_id"] == person_id and data["balances"] == {f"donor:{person_id}": 50_000}
    assert data["data"]["person"][0]["name"] == "Kavitha Raman"
    assert [i["address"] for i in data["data"]["identities"]] == ["kavitha"]
    (posting,) = data["data"]["ledger"]
    assert (posting["account"], posting["amount"], posting["kind"], posting["ref"]) == (
        f"donor:{person_id}", 50_000, "deposit", "dep-kavitha")
    assert not any("secret_hash" in s for s in data["data"]["web_sessions"])
    # Used once: the same link again (a replay, or a thief after the owner) is refused.
    assert (await download(client, link, own)).status_code == 403
    # A link past its 30 minutes is refused too.
    await chat.run("""
        kavitha  < Your data file was downloaded just now. If that was not you, tell an admin.
        kavitha  > /mydata
        kavitha  < Ketpaar holds about you
        kavitha  < Download all of it as a file
    """)
    late = link_in((await chat.fetch("kavitha")).seen[-1])
    app_env["clock"].advance(minutes=31)
    assert (await download(client, late, own)).status_code == 403
    # A forged token (a changed person id) is refused.
    forged = re.sub(r"t=\d+", f"t={person_id + 1}", late)
    assert (await download(client, forged, own)).status_code == 403

    async with store.reader() as uow:
        pool = await uow.ledger.balance(POOL)
    await chat.run("""
        kavitha  > /forget
        kavitha  < for good. The ₹500 on your balance goes to the guarantee pool. [Erase my data] [Keep my data]
        kavitha  > [tap Keep my data]
        kavitha  < Nothing was erased.
        kavitha  > /forget
        kavitha  < This erases your name [Erase my data] [Keep my data]
        kavitha  > [tap Erase my data]
        kavitha  < Done: your data is erased. If you write again, you start as a new person.
        kavitha  > [press forget:yes:50000]
        kavitha  < That button is no longer active. Send /help to see what you can do.
        kavitha  > /balance
        kavitha  < Your balance: ₹0
    """)
    async with store.reader() as uow:
        assert await uow.ledger.balance(POOL) == pool + 50_000
        assert await uow.ledger.balance(f"donor:{person_id}") == 0
        fresh = await uow.people.find("webchat", "kavitha")
        assert fresh is not None and fresh.id != person_id and fresh.name is None
        (erased,) = await chain_events(uow, "person.erased")
        assert erased.data["person_id"] == person_id and erased.data["donated"] == 50_000
    # /forget twice: the brand-new person may forget too, holding nothing but their messages.
    await chat.run("""
        kavitha  > /forget
        kavitha  < This erases your name, phone and chat ids, messages and photos for good. [Erase my data]
        kavitha  > [tap Erase my data]
        kavitha  < Done: your data is erased.
    """)
    await assert_ledger_invariants(store)


async def test_forget_waits_for_an_open_order_and_says_which(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ORDERED)
    await chat.run("""
        donor-1  > /forget
        donor-1  < Open orders: #1. When they are finished, send /forget again.
        rest-1   > /forget
        rest-1   < This erases your name
        admin    > /forget
        admin    < Admins are named in the settings: ask the operator to remove you first.
    """)
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_mydata_and_forget_in_tamil_on_the_web_chat(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    async with store.uow() as uow:
        person = await uow.people.get_or_create("webchat", "lakshmi")
        await uow.people.set_language(person.id, "ta")
    await chat.run(f"""
        lakshmi  > என் தகவல்
        lakshmi  < உங்களைப் பற்றி கேட்பாரிடம் உள்ளவை (#{person.id}): 0 ஆர்டர்கள், 1 செய்திகள், 0 போட்டோக்கள், பேலன்ஸ் ₹0.
        lakshmi  < முழு விவரத்தையும் ஃபைலாக டவுன்லோட் செய்யுங்கள் (ஒரு முறை மட்டும், 30 நிமிடத்துக்குள்):
        lakshmi  > மறந்துவிடு
        lakshmi  < போட்டோக்கள் அனைத்தையும் நிரந்தரமாக அழிக்கும். [என் தகவலை அழி] [அழிக்க வேண்டாம்]
        lakshmi  > [tap என் தகவலை அழி]
        lakshmi  < முடிந்தது: உங்கள் தகவல்கள் அழிக்கப்பட்டன.
    """)
    for message in (await chat.fetch("lakshmi")).seen:
        for text in [URL.sub(" ", message["text"]), *(b["label"] for b in message["buttons"])]:
            assert not latin_left(text), f"English in a Tamil message: {text!r}"


async def test_mydata_and_forget_by_sms_in_english_and_tamil(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    db = tmp_path / "sms.db"
    shutil.copy(sqlite_template, db)
    users = users_on("sms")
    twilio = RecordingTwilio()
    twilio.start()
    try:
        async with channel_app(db, tmp_path / "var", users, twilio=twilio) as env:
            chat, client, store = env["chat"], env["client"], env["runtime"].store
            await chat.run("""
                donor-1  > /mydata
                donor-1  < Ketpaar holds about you
                donor-1  < Download all of it as a file (works once, for 30 minutes):
            """)
            link = link_in((await chat.fetch("donor-1")).seen[-1])
            # A link sent to a phone works for whoever holds it, once, and the owner is told.
            assert (await download(client, link)).status_code == 200
            assert (await download(client, link)).status_code == 403
            await chat.settle()  # the outbox sender delivers the notice
            await chat.run("""
                donor-1  < Your data file was downloaded just now. If that was not you, tell an admin.
                donor-1  > /forget
                donor-1  < The ₹1,000 on your balance goes to the guarantee pool. To go ahead, reply ERASE.
                donor-1  > yes
                donor-1  < Nothing was erased.
                donor-1  > forget
                donor-1  < To go ahead, reply ERASE.
                donor-1  > ERASE
                donor-1  < Done: your data is erased. If you write again, you start as a new person.
            """)
            async with store.uow() as uow:
                worker = await uow.people.find("sms", users["worker-2"].address)
                assert worker is not None
                await uow.people.set_language(worker.id, "ta")
            await chat.run(f"""
                worker-2 > என் தகவல்
                worker-2 < உங்களைப் பற்றி (#{worker.id}): 0 ஆர்டர், 1 செய்தி, 0 போட்டோ, பேலன்ஸ் ₹0.
                worker-2 < முழு விவரத்தையும் ஃபைலாக டவுன்லோட் செய்யுங்கள்
                worker-2 > மறந்துவிடு
                worker-2 < அனைத்தையும் நிரந்தரமாக அழிக்கும். தொடர, அழி என்று பதில் அனுப்புங்கள்.
                worker-2 > அழி
                worker-2 < முடிந்தது: உங்கள் தகவல்கள் அழிக்கப்பட்டன.
            """)
            gone = [users["donor-1"].address, users["worker-2"].address, "Demo donor", "Lakshmi"]
            async with store.reader() as uow:
                assert await uow.people.find("sms", users["donor-1"].address) is None
                assert await uow.people.find("sms", users["worker-2"].address) is None
                # Only the farewells and the emptied messages they answer hold the numbers, for the
                # hour they take to be delivered.
                assert await traces(uow.conn, gone) == ["inbox.address", "outbox.address"]
            env["clock"].advance(minutes=61)
            assert (await end_erasures(store))["farewells"] == 4
            async with store.reader() as uow:
                assert await traces(uow.conn, gone) == []
            await assert_ledger_invariants(store)
    finally:
        twilio.stop()


PUSHED = """
    donor-1  > /mydata
    donor-1  < Ketpaar holds about you
    donor-1  < Download all of it as a file (works once, for 30 minutes): http
    donor-1  > /forget
    donor-1  < The ₹1,000 on your balance goes to the guarantee pool. [Erase my data] [Keep my data]
    donor-1  > [tap Erase my data]
    donor-1  < Done: your data is erased. If you write again, you start as a new person.
"""


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")
@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
async def test_mydata_and_forget_on_telegram_and_whatsapp(channel: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on(channel)
    with fakes(channel) as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat, client, store = env["chat"], env["client"], env["runtime"].store
            await chat.run(PUSHED.split("    donor-1  > /forget")[0])
            link = link_in((await chat.fetch("donor-1")).seen[-1])
            got = await download(client, link)
            assert got.status_code == 200 and json.loads(got.content)["balances"]
            await chat.settle()
            await chat.run("""
                donor-1  < Your data file was downloaded just now.
            """ + "    donor-1  > /forget" + PUSHED.split("    donor-1  > /forget")[1])
            async with store.reader() as uow:
                assert await uow.people.find(users["donor-1"].channel, users["donor-1"].address) is None
                assert await traces(uow.conn, [users["donor-1"].address, "Demo donor"]) == ["inbox.address", "outbox.address"]
            await assert_ledger_invariants(store)


async def test_forget_waits_for_a_payout_the_bank_has_not_paid_in_english_and_tamil(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    lines = {}
    async with store.uow() as uow:
        for address, language in (("selvi", "en"), ("murugan", "ta")):
            person = await uow.people.get_or_create("webchat", address)
            await uow.people.set_language(person.id, language)
            worker = await uow.workers.create(person_id=person.id, name=address.title(), lat=13.06, lng=80.24,
                                              zone=encode(13.06, 80.24), status=Approval.APPROVED)  # fmt: skip
            await uow.ledger.record(transfer("deposit", f"earned-{address}", DEPOSITS, worker_account(worker.id), 50_000))
            await payouts.set_details(uow, person, parse_details(person.id, f"{address}@okaxis"))
        report = await payouts.run_payouts(uow, "2026-11-23")
        lines = {line.person_id: line for line in report.lines}
    assert len(lines) == 2  # both are in the bank file, with their names and UPI ids
    # Each is told the payout is on its way (murugan's notice is Tamil; "…" takes it as it is).
    await chat.run("""
        selvi    < Payout: ₹500 is being sent to s***i@okaxis
        selvi    > /forget
        selvi    < A payout to you is on its way to the bank. When it is paid, send /forget again.
        murugan  < …
        murugan  > மறந்துவிடு
        murugan  < உங்களுக்கு அனுப்பிய பணம் இன்னும் வங்கிக்குப் போய்க்கொண்டிருக்கிறது. அது உங்களுக்கு வந்ததும் மீண்டும் /forget அனுப்புங்கள்.
    """)
    async with store.reader() as uow:  # nothing was erased
        assert [await uow.payments.details(pid) is not None for pid in lines] == [True, True]
    await assert_ledger_invariants(store)
