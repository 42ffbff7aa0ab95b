"""Transparency: the exported log verifies without the server, holds no personal data, extends the
signed checkpoint; the public figures, page and chat commands show what the ledger holds."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import ketpaar_verify as kv
from bot.sms import render_sms
from core.ledger.checkpoints import make_checkpoint
from core.ledger.export import export_line
from core.members.identity import open_session
from core.shared.events import DomainEvent
from flows.books import books_text, pool_text
from flows.i18n import translator
from flows.messages import Outbound
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants
from tests.segments import segments
from tests.test_meal_transcript import MEAL, SETTLED, settle_after_the_window

# Everything personal the demo meal involved: names, street addresses, channel addresses, and the
# exact places of the seeker, the delivery and the restaurants.
PERSONAL = ["Murugan", "Lakshmi", "Karthik", "Demo donor", "Saravana Kitchen", "Annapoorna", "Poonamallee", "Park Town",
            "donor-1", "worker-1", "rest-2"]  # fmt: skip
EXACT_PLACE = re.compile(r"\b(1[23]\.\d{3,}|80\.\d{3,})")  # 13.0827, 80.2707 … (3+ decimals: under 111 m)
PHONE = re.compile(r"\+?\d[\d -]{9,}\d")


def leaves(value: Any) -> list[Any]:
    """Every scalar inside a JSON value (dictionary keys too)."""
    if isinstance(value, dict):
        return [*value, *(x for v in value.values() for x in leaves(v))]
    if isinstance(value, list):
        return [x for v in value for x in leaves(v)]
    return [value]


async def token_for(env: dict[str, Any], address: str) -> dict[str, str]:
    """A web-chat session for a demo user, as its bearer header."""
    async with env["runtime"].store.uow() as uow:
        token, _session = await open_session(uow, address)
    return {"Authorization": f"Bearer {token}"}


async def export_all(client: httpx.AsyncClient, headers: dict[str, str], limit: int) -> str:
    """Follow X-Next-After page by page, as a member's script would."""
    out, after = [], 0
    while True:
        response = await client.get("/api/events", params={"after": after, "limit": limit}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/x-ndjson")
        out.append(response.text)
        if "x-next-after" not in response.headers:
            return "".join(out)
        after = int(response.headers["x-next-after"])


async def test_a_member_exports_the_log_and_verifies_it_against_yesterdays_checkpoint(app_env: dict[str, Any]) -> None:
    runtime, client = app_env["runtime"], app_env["client"]
    await app_env["chat"].run(MEAL)
    # Yesterday's checkpoint is signed while the order rests in its dispute window.
    cp = await make_checkpoint(runtime.store, runtime.signer)
    assert cp["day"] == "2026-11-22" and await make_checkpoint(runtime.store, runtime.signer) == cp  # once a day
    await settle_after_the_window(app_env)
    await app_env["chat"].run(SETTLED)

    assert (await client.get("/api/events")).status_code == 401  # not public by default
    visitor = await client.post("/webchat/session")
    assert (await client.get("/api/events", headers={"Authorization": f"Bearer {visitor.json()['token']}"})).status_code == 401
    assert (await client.get("/api/events", headers={"Authorization": "Bearer forged.token"})).status_code == 401
    member = await token_for(app_env, "rest-2")  # an approved restaurant is a member
    whole = await export_all(client, member, 5000)
    assert whole == await export_all(client, member, 7)  # pages join into the same bytes
    for bad in ({"after": -1}, {"limit": 0}, {"limit": 10**6}, {"after": "x"}):
        assert (await client.get("/api/events", params=bad, headers=member)).status_code == 422

    lines = whole.splitlines()
    for line in lines:  # each line is the canonical form the chain hashes
        assert line == kv.canonical_json(json.loads(line))
    async with runtime.store.reader() as uow:  # the adapter's spliced lines are core's export_line
        assert lines == [export_line(ev) async for ev in uow.chain.stream()]
    published = (await client.get("/api/checkpoints")).json()
    assert published == [cp]
    assert kv.check_checkpoint_signature(cp, runtime.signer.public_hex) == ""
    rep = kv.verify(lines, cp["seq"])
    assert rep.ok and kv.check_since(rep, cp) == ""
    async with runtime.store.reader() as uow:
        seq, head = await uow.chain.head()
        balances = await uow.ledger.balances()
    assert (rep.events, rep.head) == (seq, head)
    by_kind: dict[str, int] = {}
    for account, paise in balances.items():
        by_kind[account.split(":")[0]] = by_kind.get(account.split(":")[0], 0) + paise
    assert {k: v for k, v in rep.balances.items() if v} == {k: v for k, v in by_kind.items() if v}

    # No names, addresses, phone numbers or exact places in the published log: only ids and
    # geohash-5 zones (about 5 km).
    for word in PERSONAL:
        assert word not in whole, word
    assert not EXACT_PLACE.search(whole), EXACT_PLACE.search(whole)
    values = [str(v) for line in lines for v in leaves({k: v for k, v in json.loads(line).items() if k not in ("hash", "prev_hash")})]
    assert not [v for v in values if PHONE.search(v)]
    zones = re.findall(r'"zone":"(\w+)"', whole)
    assert zones and all(len(z) <= 5 for z in zones)
    await assert_ledger_invariants(runtime.store)


async def test_the_figures_page_and_chat_show_what_the_ledger_holds(app_env: dict[str, Any]) -> None:
    runtime, client, chat = app_env["runtime"], app_env["client"], app_env["chat"]
    await chat.run(MEAL)
    await settle_after_the_window(app_env)
    await chat.run(SETTLED)
    async with runtime.store.reader() as uow:
        balances = await uow.ledger.balances()
    figures = (await client.get("/api/transparency")).json()
    today = figures["pool"]["days"][-1]
    assert today["day"] == "2026-11-23" and len(figures["pool"]["days"]) == 30
    assert figures["pool"]["balance"] == balances["pool:guarantee"] == 300 == today["in"] == today["balance"]
    assert today["out"] == 0 and figures["pool"]["days"][-2]["balance"] == 0
    assert figures["days"][-1] == {"day": "2026-11-23", "meals": 1, "money_in": 100_000, "money_out": 0}
    assert figures["orders"] == {"open": 0, "settled": 1}
    assert figures["parameters"]["delivery_fee"] == {"value": 3000, "source": "setup", "since": "2026-11-23T06:30:00+00:00"}
    assert figures["areas"] == {"tf31s": 1} or all(len(a) == 5 for a in figures["areas"])

    for lang, heading in (("en", "Ketpaar: the open books"), ("ta", "கேட்பார்: திறந்த கணக்குகள்")):
        html = (await client.get("/transparency", params={"lang": lang})).text
        assert heading in html
        assert 'class="pool-in" data-day="2026-11-23" data-paise="300"' in html
        assert 'class="meals" data-day="2026-11-23" data-meals="1"' in html
        assert 'id="pool-balance" data-paise="300"' in html and 'data-open="0" data-settled="1"' in html
        for word in PERSONAL:
            assert word not in html
        assert not EXACT_PLACE.search(html)
    assert "தமிழ்" in (await client.get("/transparency", headers={"Accept-Language": "ta-IN"})).text

    await chat.run("""
        rest-1   > /pool
        rest-1   < Guarantee pool: ₹3.
        rest-1   > /books
        rest-1   < Orders: 0 open, 1 settled. Money in: ₹1,000, paid out: ₹0.
    """)
    seen = [m["text"] for m in (await chat.fetch("rest-1")).seen[-2:]]
    async with runtime.store.reader() as uow:
        events = (await uow.chain.head())[0]
    assert seen == [
        "Guarantee pool: ₹3.\nLast 30 days: ₹3 in from delivery fees, ₹0 out as top-ups to the daily minimum of ₹500.",
        f"Orders: 0 open, 1 settled. Money in: ₹1,000, paid out: ₹0.\nLedger: {events} events; no signed checkpoint yet.",
    ]
    cp = await make_checkpoint(runtime.store, runtime.signer)
    async with runtime.store.uow() as uow:
        rest1 = await uow.people.find("webchat", "rest-1")
        await uow.people.set_language(rest1.id, "ta")
    await chat.run("""
        rest-1   > நிதி
        rest-1   < உத்தரவாத நிதி: ₹3.
        rest-1   > கணக்கு
        rest-1   < ஆர்டர்கள்: 0 நடப்பில், 1 முடிந்தது. வந்த பணம்: ₹1,000, கொடுத்தது: ₹0.
    """)
    seen = [m["text"] for m in (await chat.fetch("rest-1")).seen[-2:]]
    assert seen == [
        "உத்தரவாத நிதி: ₹3.\nகடந்த 30 நாளில்: டெலிவரி கட்டணப் பங்கு ₹3 வந்தது; தினசரி குறைந்தபட்சம் ₹500 வரை நிரப்ப ₹0 போனது.",
        "ஆர்டர்கள்: 0 நடப்பில், 1 முடிந்தது. வந்த பணம்: ₹1,000, கொடுத்தது: ₹0.\n"
        f"பதிவேடு: {events + 1} நிகழ்வுகள்; கடைசி கையொப்பச் சோதனைப் புள்ளி 22 நவ., 2026, நிகழ்வு {events}-இல்.",
    ]
    assert cp["seq"] == events  # chat commands record no events; the signing is the one event after it
    await assert_ledger_invariants(runtime.store)


async def test_the_log_is_public_when_the_cooperative_says_so(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"public_log": True, "ip_rate_per_minute": 3}) as env:
        client: httpx.AsyncClient = env["client"]  # type: ignore[assignment]
        response = await client.get("/api/events", params={"limit": 3})
        assert response.status_code == 200 and len(response.text.splitlines()) == 3
        assert kv.verify(response.text.splitlines()).ok
        assert [(await client.get("/api/events")).status_code for _ in range(3)] == [200, 200, 429]  # per-IP limit


def test_no_event_type_has_a_field_for_personal_data() -> None:
    # A guard for whoever adds an event: names, numbers, addresses, places and free text go in
    # tables of their own, and the chain holds an id or a salted commitment (core/ledger/commitments.py).
    personal = re.compile(r"(^|_)(name|phone|address|lat|lng|lon|text|words|note|evidence|email|upi|account_no)($|_)")
    allowed = {("parameter.changed", "name"), ("dispute.raised", "has_evidence")}  # a parameter's name; a yes or no

    def subclasses(cls: type) -> list[type]:
        return [c for s in cls.__subclasses__() for c in (s, *subclasses(s))]

    found = [(c.type, f.name) for c in subclasses(DomainEvent) for f in dataclasses.fields(c)
             if personal.search(f.name) and (c.type, f.name) not in allowed]  # fmt: skip
    assert found == []


async def test_members_who_opt_in_get_each_daily_checkpoint(app_env: dict[str, Any]) -> None:
    runtime, chat, clock = app_env["runtime"], app_env["chat"], app_env["clock"]
    async with runtime.store.uow() as uow:
        rest1 = await uow.people.find("webchat", "rest-1")
        await uow.people.set_language(rest1.id, "ta")
    await chat.run("""
        worker-1 > /checkpoint
        worker-1 < Each morning you will get the signed checkpoint of the books here. Send /checkpoint again to stop.
        rest-1   > கையொப்பம்
        rest-1   < தினமும் காலையில் கணக்கின் கையொப்பமிட்ட சோதனைப் புள்ளி இங்கே வரும். நிறுத்த மீண்டும் /checkpoint அனுப்புங்கள்.
    """)
    cp = await make_checkpoint(runtime.store, runtime.signer)
    head = cp["head"][:16]
    await chat.run(f"""
        worker-1 < Checkpoint of 22 Nov 2026: {cp["seq"]} events, head {head}. Save it from /api/checkpoints to check later logs.
        rest-1   < 22 நவ., 2026 சோதனைப் புள்ளி: {cp["seq"]} நிகழ்வுகள், ஹாஷ் {head}. பின்னர் சரிபார்க்க /api/checkpoints-இலிருந்து சேமியுங்கள்.
    """)
    await make_checkpoint(runtime.store, runtime.signer)  # the same day again: nothing new, nobody told twice
    await chat.run("""
        worker-1 > /checkpoint
        worker-1 < You will no longer get the daily checkpoint. Send /checkpoint to get it again.
    """)
    clock.advance(hours=24)
    later = await make_checkpoint(runtime.store, runtime.signer)
    assert later["day"] == "2026-11-23"
    seq, head = later["seq"], later["head"][:16]
    await chat.run(f"""
        rest-1   < 23 நவ., 2026 சோதனைப் புள்ளி: {seq} நிகழ்வுகள், ஹாஷ் {head}. பின்னர் சரிபார்க்க /api/checkpoints-இலிருந்து சேமியுங்கள்.
    """)  # and worker-1, who stopped, gets nothing (the transcript ends with nothing unread)
    await assert_ledger_invariants(runtime.store)


@pytest.mark.parametrize("lang", ["en", "ta"])
def test_pool_and_books_fit_two_sms_segments_with_large_figures(lang: str) -> None:
    _ = translator(lang, "sms")
    texts = [
        pool_text(_, lang, 98_76_543_21, 12_34_567_89, 9_87_654_32, 50_000),
        # a few years of a busy cooperative: ₹1 crore in and out (with paise), a million events
        books_text(_, lang, (1234, 98_765), 1_23_45_678_91, 1_12_34_567_89, 1_234_567, ("2026-11-22", 1_234_560)),
        books_text(_, lang, (1234, 98_765), 1_23_45_678_91, 1_12_34_567_89, 1_234_567, None),
    ]
    for text in texts:
        assert segments(render_sms(Outbound(text), lang))[1] <= 2, text
