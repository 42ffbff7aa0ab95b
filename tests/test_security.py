"""The attacker's view of the web chat: identities that cannot be borrowed, admins that are really
admins, photo links that stay with their session, and hostile requests answered without harm.

Each test names the finding of the probe it guards against. Run on SQLite; the identity tables
and the deposit paths also run on PostgreSQL (the `db`-parametrised tests at the end)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.members.identity import admin_link_token, check_session, open_session
from tests.chat import make_photo
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants

PRODUCTION = {"demo": False, "photo_key": "ab" * 32}
SECRET = b"test-secret"  # what running_app configures as KETPAAR_SECRET_KEY


@pytest.fixture
async def prod_env(app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The app with KETPAAR_DEMO=false (and the demo users seeded anyway, to prove they are not reachable)."""
    async with running_app(app_db, tmp_path / "var", settings=PRODUCTION) as env:
        yield env


@pytest.fixture(params=["sqlite", "postgres"])
async def any_env(request: pytest.FixtureRequest, app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The demo app on SQLite, then on a fresh PostgreSQL database."""
    url: Path | str = app_db if request.param == "sqlite" else request.getfixturevalue("pg_fresh_url")
    async with running_app(url, tmp_path / "var") as env:
        yield env


@pytest.fixture(params=["sqlite", "postgres"])
async def any_prod_env(request: pytest.FixtureRequest, app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The production-mode app on SQLite, then on a fresh PostgreSQL database."""
    url: Path | str = app_db if request.param == "sqlite" else request.getfixturevalue("pg_fresh_url")
    async with running_app(url, tmp_path / "var", settings=PRODUCTION) as env:
        yield env


async def visitor(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """A new web-chat visitor: (address, bearer headers)."""
    response = await client.post("/webchat/session")
    assert response.status_code == 201, response.text
    body = response.json()
    return body["address"], {"Authorization": f"Bearer {body['token']}"}


async def texts(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> list[str]:
    """Every message text at a messages URL."""
    response = await client.get(path, headers=headers or {})
    assert response.status_code == 200, response.text
    return [m["text"] for m in response.json()["messages"]]


# ---- identity on the web chat ------------------------------------------------------------------


@pytest.mark.parametrize("user", ["admin", "donor-1", "worker-1", "someone-else"])
async def test_without_a_session_nobody_can_post_or_read_as_anyone_in_production(any_prod_env: dict[str, Any], user: str) -> None:
    prod_env = any_prod_env
    client = prod_env["client"]
    assert (await client.post(f"/webchat/{user}/messages", json={"text": "/deposit donor-1 5000"})).status_code == 401
    assert (await client.get(f"/webchat/{user}/messages")).status_code == 401
    assert (await client.get("/webchat/messages")).status_code == 401
    assert (await client.get("/webchat/config")).json() == {"demo": False, "demo_users": []}
    await prod_env["chat"].drain()
    async with prod_env["runtime"].store.reader() as uow:
        assert await uow.inbox.pending_senders() == []


async def test_in_the_demo_only_the_demo_users_work_without_a_session(app_env: dict[str, Any]) -> None:
    client = app_env["client"]
    assert (await client.post("/webchat/donor-1/messages", json={"text": "/balance"})).status_code == 202
    assert (await client.post("/webchat/newcomer/messages", json={"text": "/start"})).status_code == 401
    assert (await client.get("/webchat/newcomer/messages")).status_code == 401
    assert (await client.get("/webchat/config")).json()["demo"] is True


async def test_the_demo_is_closed_to_a_client_that_is_not_on_this_machine(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", client_address=("203.0.113.9", 4000)) as env:
        client = env["client"]
        assert (await client.post("/webchat/admin/messages", json={"text": "/deposit donor-1 5000"})).status_code == 401
        assert (await client.get("/webchat/config")).json() == {"demo": False, "demo_users": []}


async def test_the_demo_is_closed_to_a_request_forwarded_by_a_local_proxy(app_env: dict[str, Any]) -> None:
    client = app_env["client"]
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        assert (await client.post("/webchat/admin/messages", json={"text": "/help"}, headers=header)).status_code == 401
        assert (await client.get("/webchat/config", headers=header)).json()["demo"] is False


async def test_the_demo_is_closed_when_the_server_listens_beyond_loopback(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"host": "0.0.0.0"}) as env:
        assert (await env["client"].post("/webchat/admin/messages", json={"text": "/help"})).status_code == 401


async def test_a_visitor_gets_a_fresh_identity_that_others_cannot_read_or_use(any_prod_env: dict[str, Any]) -> None:
    client, chat = any_prod_env["client"], any_prod_env["chat"]
    me, headers = await visitor(client)
    other, other_headers = await visitor(client)
    assert me.startswith("w-") and me != other
    assert (await client.post("/webchat/messages", json={"text": "/balance"}, headers=headers)).status_code == 202
    await chat.drain()
    assert any("Your member number" in t for t in await texts(client, "/webchat/messages", headers))
    # The other visitor's session opens nothing of mine, by either URL.
    assert (await client.get(f"/webchat/{me}/messages", headers=other_headers)).status_code == 403
    assert (await client.post(f"/webchat/{me}/messages", json={"text": "hi"}, headers=other_headers)).status_code == 403
    assert not any("member number" in t for t in await texts(client, "/webchat/messages", other_headers))
    # A made-up, truncated or tampered token is no session.
    token = headers["Authorization"].split()[1]
    for bad in ("0" * 32 + ".abcdefghijklmnopqrstuvwxyz", token[:-1] + ("A" if token[-1] != "A" else "B"), "x", ""):
        assert (await client.get("/webchat/messages", headers={"Authorization": f"Bearer {bad}"})).status_code == 401


async def test_the_page_session_is_an_httponly_strict_cookie_and_logout_ends_it(prod_env: dict[str, Any]) -> None:
    client = prod_env["client"]
    response = await client.post("/webchat/session")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert (await client.get("/webchat/me")).json()["address"] == response.json()["address"]  # the cookie alone
    assert (await client.post("/webchat/logout")).status_code == 200
    client.cookies.clear()
    token = response.json()["token"]
    assert (await client.get("/webchat/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_an_expired_session_proves_nothing(prod_env: dict[str, Any]) -> None:
    store: Store = prod_env["runtime"].store
    async with store.uow() as uow:
        token, _session = await open_session(uow)
    clock = prod_env["clock"]
    clock.advance(minutes=31 * 24 * 60)
    async with store.reader() as uow:
        assert await check_session(uow, token) is None


# ---- admins ------------------------------------------------------------------------------------


async def test_an_admin_signs_in_only_with_a_one_time_link(prod_env: dict[str, Any]) -> None:
    client, chat = prod_env["client"], prod_env["chat"]
    token = admin_link_token(SECRET, "admin", time.time())
    page = await client.get("/webchat/admin-login", params={"token": token})
    assert page.status_code == 200 and 'name="token"' in page.text and "<script" not in page.text
    assert (await client.get("/webchat/me")).status_code == 401  # opening the link alone signs nobody in
    signed_in = await client.post("/webchat/admin-login", data={"token": token})
    assert signed_in.status_code == 303
    assert (await client.get("/webchat/me")).json() == {"address": "admin", "name": "Admin", "admin": True}
    assert (await client.post("/webchat/messages", json={"text": "/deposit donor-1 50"})).status_code == 202
    await chat.drain()
    assert any("Record ₹50 received for Demo donor" in t for t in await texts(client, "/webchat/messages"))
    # The same link again, an expired one, a forged one, one for a non-admin: refused.
    client.cookies.clear()
    expired = admin_link_token(SECRET, "admin", time.time() - 16 * 60)
    forged = admin_link_token(b"another-secret", "admin", time.time())
    stranger = admin_link_token(SECRET, "donor-1", time.time())
    for bad in (token, expired, forged, stranger, "not-a-token", "a.b"):
        response = await client.post("/webchat/admin-login", data={"token": bad})
        assert response.status_code == 403, bad
        assert "set-cookie" not in response.headers
    async with prod_env["runtime"].store.reader() as uow:
        assert [e.type async for e in uow.chain.stream() if e.type == "admin.signed_in"] == ["admin.signed_in"]


async def test_admin_rights_follow_the_settings_at_every_start(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"admins": "webchat:admin,telegram:42"}) as env:
        async with env["runtime"].store.reader() as uow:
            assert sorted((a.channel, a.address) for a in await uow.people.admins()) == [("telegram", "42"), ("webchat", "admin")]
    async with running_app(app_db, tmp_path / "var", settings={"admins": "telegram:42"}, seed=False) as env:
        async with env["runtime"].store.reader() as uow:
            assert [(a.channel, a.address) for a in await uow.people.admins()] == [("telegram", "42")]
            changes = [e.data async for e in uow.chain.stream() if e.type == "admins.changed"]
        assert len(changes) == 2 and changes[-1]["added"] == [] and len(changes[-1]["removed"]) == 1
        # The demo "admin" is now an ordinary person: no deposits.
        await env["chat"].run("""
            admin > /deposit donor-1 100
            admin < Only an admin can record deposits.
        """)


def test_the_cli_prints_a_link_only_for_a_web_chat_admin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from webhooks.cli import _admin_link
    from webhooks.settings import Settings

    settings = Settings(data_dir=tmp_path, secret_key="s3cret", admins="webchat:treasurer,telegram:7", public_url="https://ketpaar.example")
    assert _admin_link(settings, "treasurer") == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://ketpaar.example/webchat/admin-login?token=")
    from core.members.identity import read_admin_link

    claims = read_admin_link(b"s3cret", url.split("token=", 1)[1], time.time())
    assert claims is not None and claims[0] == "treasurer"
    assert _admin_link(settings, "mallory") == 2


def test_the_shipped_compose_file_names_no_web_chat_admin() -> None:
    compose = (Path(__file__).parents[1] / "docker-compose.yml").read_text()
    assert "webchat:" not in compose


# ---- deposits (findings 1, 2) ------------------------------------------------------------------


@pytest.mark.parametrize("target", ["donr-x", "foo:bar", "webchat:", "x" * 200, "#99999", "#0", "whatsapp:+910000000000"])
async def test_a_deposit_to_someone_unknown_is_refused_and_creates_nobody(app_env: dict[str, Any], target: str) -> None:
    store: Store = app_env["runtime"].store
    async with store.reader() as uow:
        before = len(await uow.people.admins()), await uow.ledger.balances()
    await app_env["chat"].run(f"""
        admin > /deposit {target} 1
        admin < No one is registered as
    """)
    async with store.reader() as uow:
        assert (len(await uow.people.admins()), await uow.ledger.balances()) == before
        assert await uow.people.find("webchat", target) is None


async def test_a_whatsapp_donor_is_credited_by_number(any_env: dict[str, Any]) -> None:
    app_env = any_env
    store: Store = app_env["runtime"].store
    async with store.uow() as uow:
        donor = await uow.people.get_or_create("whatsapp", "whatsapp:+919876543210")
        await uow.people.set_name(donor.id, "Meena")
    for handle in ("whatsapp:+919876543210", "+919876543210", f"#{donor.id}"):
        await app_env["chat"].run(f"""
            admin > /deposit {handle} 10
            admin < Record ₹10 received for Meena (member #{donor.id})? [Confirm]
            admin > [tap Confirm]
            admin < Recorded ₹10 for Meena (#{donor.id}).
        """)
    async with store.reader() as uow:
        assert await uow.ledger.balance(f"donor:{donor.id}") == 3_000
        assert await uow.people.find("webchat", "+919876543210") is None
    await assert_ledger_invariants(store)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_a_large_deposit_needs_a_second_admin(request: pytest.FixtureRequest, engine: str, app_db: Path, tmp_path: Path) -> None:
    url: Path | str = app_db if engine == "sqlite" else request.getfixturevalue("pg_fresh_url")
    async with running_app(url, tmp_path / "var", settings={"admins": "webchat:admin,webchat:treasurer"}) as env:
        chat, store = env["chat"], env["runtime"].store
        await chat.run("""
            admin     > /deposit donor-1 20000
            admin     < Record ₹20,000 received for Demo donor (member #8)? [Confirm] [Cancel]
            admin     > [tap Confirm]
            admin     < Above ₹10,000, a second admin must confirm. I have asked the other admins.
            treasurer < Admin asks to record ₹20,000 received for Demo donor (member #8). Confirm only if [Confirm deposit] [Refuse]
        """)
        request_button = await chat.button("treasurer", "Confirm deposit")
        await chat.post("admin", json={"button": request_button})  # the asking admin cannot confirm it
        await chat.drain()
        await chat.run("""
            admin     < Another admin must confirm the deposit you asked for.
            donor-1   > /balance
            donor-1   < Your balance: ₹1,000
            treasurer > [tap Confirm deposit]
            treasurer < Recorded ₹20,000 for Demo donor (#8). Their balance is now ₹21,000.
            admin     < #2 confirmed the deposit of ₹20,000 for Demo donor.
            donor-1   < ₹20,000 was added to your balance. Thank you!
        """)
        await chat.post("treasurer", json={"button": request_button})
        await chat.drain()
        await chat.run("""
            treasurer < That question has already been answered.
            donor-1   > /balance
            donor-1   < Your balance: ₹21,000
        """)
        async with store.reader() as uow:
            decided = [e async for e in uow.chain.stream() if e.type == "deposit.decided"]
            admins = {a.address: a.actor for a in await uow.people.admins()}
        assert len(decided) == 1 and decided[0].actor == admins["treasurer"] and decided[0].data["requested_by"] == admins["admin"]
        await assert_ledger_invariants(store)


async def test_a_lone_admin_cannot_record_a_large_deposit(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        admin > /deposit donor-1 10000.01
        admin < Record ₹10,000.01 received for Demo donor (member #7)? [Confirm] [Cancel]
        admin > [tap Confirm]
        admin < Deposits above ₹10,000 need a second admin, and you are the only one. Nothing was recorded.
        donor-1 > /balance
        donor-1 < Your balance: ₹1,000
    """)


async def test_a_non_admin_pressing_deposit_buttons_changes_nothing(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.post("donor-1", json={"button": "deposit:yes:abcd"})
    await chat.post("donor-1", json={"button": "deposit2:yes:1"})
    await chat.drain()
    await chat.run("""
        donor-1 < That button is no longer active. Send /help to see what you can do.
        donor-1 < Only an admin can record deposits.
        donor-1 > /balance
        donor-1 < Your balance: ₹1,000
    """)


# ---- public balances (finding 4) ---------------------------------------------------------------


async def test_public_balances_show_only_the_cooperatives_own_accounts(app_env: dict[str, Any]) -> None:
    body = (await app_env["client"].get("/api/ledger/balances")).json()
    assert set(body["accounts"]) <= {"external:deposits", "external:payouts", "pool:guarantee", "fund:infra"}
    assert body["accounts"]["external:deposits"] == -100_000
    assert body["totals_by_kind"]["donor"] == 100_000
    assert not any(a.startswith(("donor:", "worker:", "restaurant:", "escrow:")) for a in body["accounts"])


# ---- photo links -------------------------------------------------------------------------------


async def test_photo_links_are_bound_to_the_session_and_die_with_the_order(prod_env: dict[str, Any]) -> None:
    client, chat = prod_env["client"], prod_env["chat"]
    store: Store = prod_env["runtime"].store
    me, headers = await visitor(client)
    _other, other_headers = await visitor(client)
    async with store.uow() as uow:
        donor = await uow.people.get_or_create("webchat", me)
    from core.ledger.service import record_deposit

    async with store.uow() as uow:
        await record_deposit(uow, donor.id, 50_000, "test-photo-links", "system", "test")
    await client.post("/webchat/messages", files={"photo": ("p.jpg", make_photo(), "image/jpeg")}, headers=headers)
    await chat.drain()
    for body in ({"button": None}, {"location": {"lat": 13.0827, "lng": 80.2707}}, {"button": "scene"}):
        messages = (await client.get("/webchat/messages", headers=headers)).json()["messages"]
        if "button" in body:
            prefix = "consent:yes" if body["button"] is None else "scene:"
            body = {"button": next(b["payload"] for m in reversed(messages) for b in m["buttons"] if b["payload"].startswith(prefix))}
        await client.post("/webchat/messages", json=body, headers=headers)
        await chat.drain()
    async with store.reader() as uow:
        order = (await uow.orders.find(donor_id=donor.id, limit=1))[0]
    assert order.seeker_photo
    from bot.webchat import photo_link

    session_id = headers["Authorization"].split()[1].split(".")[0]
    link = photo_link(SECRET, f"s:{session_id}", "/webchat", order.seeker_photo)
    assert (await client.get(link, headers=headers)).status_code == 200
    assert (await client.get(link, headers=other_headers)).status_code == 403  # another session
    client.cookies.clear()
    assert (await client.get(link)).status_code == 401  # no session at all
    await client.post("/webchat/messages", json={"text": "/cancel"}, headers=headers)
    await chat.drain()
    assert (await client.get(link, headers=headers)).status_code == 403  # the order is cancelled


# ---- hostile requests (findings 9, 11) ---------------------------------------------------------


async def test_hostile_http_requests_get_4xx_never_500(app_env: dict[str, Any]) -> None:
    client = app_env["client"]
    deep = b"[" * 100_000
    cases = [
        await client.post("/webchat/donor-1/messages", content=deep, headers={"content-type": "application/json"}),
        await client.post("/webchat/donor-1/messages", content=b'{"text": "' + b"a" * 70_000 + b'"}',
                          headers={"content-type": "application/json"}),
        await client.get("/webchat/donor-1/messages", params={"after": "9223372036854775808"}),
        await client.get("/webchat/donor-1/messages", params={"after": "-1"}),
        await client.get("/webchat/donor-1/messages", params={"wait": "nan"}),
        await client.get("/webchat/donor-1/messages", params={"wait": "inf"}),
        await client.get("/webchat/donor-1/messages", params={"wait": "1e309"}),
        await client.get("/webchat/donor-1/photos/abc", params={"exp": "99999999999999999999", "sig": "x"}),
        await client.get("/webchat/donor-1/photos/" + "a" * 300, params={"exp": "1", "sig": "x"}),
        await client.post("/webchat/donor-1/messages", json={"text": "hi"}, headers={"Idempotency-Key": "k" * 300}),
    ]
    statuses = [r.status_code for r in cases]
    assert all(400 <= s < 500 for s in statuses), statuses


async def test_idempotency_keys_belong_to_one_sender_and_one_body(any_env: dict[str, Any]) -> None:
    app_env = any_env
    client, chat = app_env["client"], app_env["chat"]
    key = {"Idempotency-Key": "shared-key"}
    first = await client.post("/webchat/donor-1/messages", json={"text": "/balance"}, headers=key)
    other = await client.post("/webchat/worker-1/messages", json={"text": "/balance"}, headers=key)
    assert first.json()["duplicate"] is False and other.json()["duplicate"] is False
    assert other.json()["id"] != first.json()["id"]
    changed = await client.post("/webchat/donor-1/messages", json={"text": "/help"}, headers=key)
    assert changed.status_code == 409
    long_a, long_b = "p" * 200 + "a", "p" * 200 + "b"  # the same first 128 characters
    a = await client.post("/webchat/donor-1/messages", json={"text": "/balance"}, headers={"Idempotency-Key": long_a})
    b = await client.post("/webchat/donor-1/messages", json={"text": "/balance"}, headers={"Idempotency-Key": long_b})
    assert a.json()["duplicate"] is False and b.json()["duplicate"] is False
    await chat.drain()
    assert sum("Your balance" in t for t in await texts(client, "/webchat/worker-1/messages")) == 1


# ---- limits ------------------------------------------------------------------------------------


async def test_a_flood_from_one_person_gets_a_polite_429_in_their_language(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"person_rate_per_minute": 3}) as env:
        client, chat = env["client"], env["chat"]
        await chat.run("""
            worker-2 > /language
            worker-2 < மொழியைத் தேர்ந்தெடுக்கவும் · Choose your language [தமிழ்] [English]
            worker-2 > [press lang:ta]
            worker-2 < வணக்கம்! கேட்பாருக்கு உங்களை வரவேற்கிறோம்.
        """)
        statuses = [(await client.post("/webchat/worker-2/messages", json={"text": "/help"})).status_code for _ in range(3)]
        refused = await client.post("/webchat/worker-2/messages", json={"text": "/help"})
        assert statuses.count(202) <= 3 and refused.status_code == 429
        assert any("\u0b80" <= ch <= "\u0bff" for ch in refused.json()["message"])  # Tamil
        assert (await client.post("/webchat/worker-3/messages", json={"text": "/help"})).status_code == 202  # others unaffected


async def test_new_sessions_are_limited_per_address(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", settings={"sessions_per_ip_per_hour": 2}) as env:
        codes = [(await env["client"].post("/webchat/session")).status_code for _ in range(3)]
        assert codes == [201, 201, 429]


async def test_provider_messages_over_the_limit_wait_their_turn_and_none_is_lost(app_env: dict[str, Any]) -> None:
    runtime = app_env["runtime"]
    processor = runtime.processor
    now = [0.0]
    processor.limiter.limit, processor.limiter.clock = 2, lambda: now[0]
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    processor.sleep = fake_sleep
    for i in range(5):
        await processor.receive("test", f"flood-{i}", "flooder", {"kind": "text", "text": "/balance"})
    await processor.drain()
    async with runtime.store.reader() as uow:
        rows = await uow.outbox.for_recipient("test", "flooder", 0)
    replies = [r[1]["text"] for r in rows]
    assert sum("Your balance" in t for t in replies) == 5  # every message answered
    assert sum("faster than I can answer" in t for t in replies) == 1  # told once a window
    assert waited and all(w > 0 for w in waited)


# ---- linking channels --------------------------------------------------------------------------


async def _sms(env: dict[str, Any], number: str, text: str) -> str:
    """An SMS from a number, handled; return the newest reply stored for it."""
    processor = env["runtime"].processor
    await processor.receive("sms", f"SM{time.time_ns()}", number, {"kind": "text", "text": text})
    await processor.drain()
    async with env["runtime"].store.reader() as uow:
        rows = await uow.outbox.for_recipient("sms", number, 0)
    return str(rows[-1][1]["text"]) if rows else ""


async def test_a_web_session_links_to_an_sms_restaurant_with_a_code(any_prod_env: dict[str, Any]) -> None:
    prod_env = any_prod_env
    client, chat, store = prod_env["client"], prod_env["chat"], prod_env["runtime"].store
    async with store.uow() as uow:
        sms_person = await uow.people.get_or_create("sms", "+919800000001")
        from core.ledger.service import record_deposit

        await record_deposit(uow, sms_person.id, 7_700, "sms-donor", "system", "test")
    reply = await _sms(prod_env, "+919800000001", "/link")
    code = reply.split("code is ")[1][:8]
    me, headers = await visitor(client)
    # Wrong codes count; the right one joins the web session to the SMS person.
    await client.post("/webchat/messages", json={"text": "/link 00000000" if code != "00000000" else "/link 11111111"}, headers=headers)
    await client.post("/webchat/messages", json={"text": f"/link {code}"}, headers=headers)
    await client.post("/webchat/messages", json={"text": "/balance"}, headers=headers)
    await chat.drain()
    seen = await texts(client, "/webchat/messages", headers)
    assert any("not valid or has expired" in t for t in seen)
    assert any(f"member #{sms_person.id}" in t for t in seen)
    assert any("₹77" in t and f"#{sms_person.id}" in t for t in seen)
    async with store.reader() as uow:
        assert (await uow.people.find("webchat", me)).id == sms_person.id  # type: ignore[union-attr]
    # The code was single use.
    _stranger, stranger_headers = await visitor(client)
    await client.post("/webchat/messages", json={"text": f"/link {code}"}, headers=stranger_headers)
    await chat.drain()
    assert any("not valid or has expired" in t for t in await texts(client, "/webchat/messages", stranger_headers))
    await assert_ledger_invariants(store)


async def test_link_codes_allow_five_tries_and_expire_after_ten_minutes(prod_env: dict[str, Any]) -> None:
    client, chat = prod_env["client"], prod_env["chat"]
    code = (await _sms(prod_env, "+919800000002", "/link")).split("code is ")[1][:8]
    _me, headers = await visitor(client)
    wrong = "12345678" if code != "12345678" else "87654321"
    for _ in range(5):
        await client.post("/webchat/messages", json={"text": f"/link {wrong}"}, headers=headers)
    await client.post("/webchat/messages", json={"text": f"/link {code}"}, headers=headers)  # right, but too late
    await chat.drain()
    assert any("Too many wrong codes" in t for t in await texts(client, "/webchat/messages", headers))
    fresh = (await _sms(prod_env, "+919800000002", "/link")).split("code is ")[1][:8]
    prod_env["clock"].advance(minutes=11)
    _me2, headers2 = await visitor(client)
    await client.post("/webchat/messages", json={"text": f"/link {fresh}"}, headers=headers2)
    await chat.drain()
    assert any("not valid or has expired" in t for t in await texts(client, "/webchat/messages", headers2))


# ---- the identity tables on both engines ---------------------------------------------------------


async def test_sessions_links_and_admin_tokens_on_both_engines(db: Database) -> None:
    from datetime import UTC, datetime

    from core.members.identity import LinkError, issue_link_code, redeem_link_code, sign_in_admin
    from tests.clock import FixedClock

    clock = FixedClock(datetime(2026, 11, 29, 6, 0, tzinfo=UTC))
    store = Store(db, clock)
    tag = f"{time.time_ns()}"
    async with store.uow() as uow:
        admin = await uow.people.get_or_create("webchat", f"adm-{tag}")
        await uow.people.set_flags(admin.id, is_admin=True)
        token, session = await open_session(uow)
        sms = await uow.people.get_or_create("sms", f"+91{tag[-10:]}")
        web = await uow.people.get_or_create("webchat", session.address)
        code = await issue_link_code(uow, sms, "sms", sms.address)
    async with store.uow() as uow:
        assert (await check_session(uow, token)) == session
        joined = await redeem_link_code(uow, web, "webchat", session.address, code)
        assert joined.id == sms.id and joined.web_address == session.address
        with pytest.raises(LinkError):
            await redeem_link_code(uow, web, "webchat", session.address, code)
    link = admin_link_token(SECRET, f"adm-{tag}", time.time())
    async with store.uow() as uow:
        assert await sign_in_admin(uow, SECRET, link, {("webchat", f"adm-{tag}")}, time.time()) is not None
    async with store.uow() as uow:
        assert await sign_in_admin(uow, SECRET, link, {("webchat", f"adm-{tag}")}, time.time()) is None
    await assert_ledger_invariants(store)


async def test_provider_webhooks_refuse_huge_unsigned_bodies_without_reading_them(app_db: Path, tmp_path: Path) -> None:
    from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

    twilio = {"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN, "twilio_sms_from": "+15005550006",
              "twilio_api_base": "http://127.0.0.1:9", "telegram_bot_token": "1:x", "telegram_secret_token": "s"}
    async with running_app(app_db, tmp_path / "var", settings=twilio) as env:
        pulled = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            for _ in range(50_000):  # 1.6 GB if it were all read
                pulled += 32_768
                yield b"x" * 32_768

        sms = await env["client"].post("/webhooks/twilio/sms", content=body(),
                                       headers={"x-twilio-signature": "forged", "content-type": "application/x-www-form-urlencoded"})
        assert sms.status_code == 413 and pulled < 200_000
        pulled = 0
        tg = await env["client"].post("/webhooks/telegram", content=body(), headers={"x-telegram-bot-api-secret-token": "s"})
        assert tg.status_code == 413 and pulled < 1_100_000


async def test_many_wrong_link_codes_from_many_people_pause_linking_for_everyone(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attacker spreading guesses over many sessions stays under each person's 5 tries; the
    service-wide budget stops the guessing anyway, and linking resumes once the window passes."""
    from datetime import UTC, datetime

    from core.members import identity
    from core.members.identity import LinkError, issue_link_code, redeem_link_code
    from core.schedule.jobs import end_erasures
    from tests.clock import FixedClock

    monkeypatch.setattr(identity, "LINK_CODE_SERVICE_FAILURES", 12)
    clock = FixedClock(datetime(2026, 11, 29, 6, 0, tzinfo=UTC))
    store = Store(sqlite_db, clock)
    async with store.uow() as uow:
        victim = await uow.people.get_or_create("sms", "+919800000077")
        code = await issue_link_code(uow, victim, "sms", victim.address)
    wrong = "00000000" if code != "00000000" else "11111111"
    for n in range(3):  # 3 sessions x 4 wrong tries: each under its own limit of 5
        for _ in range(4):
            async with store.uow() as uow:
                guesser = await uow.people.get_or_create("webchat", f"w-guess{n}")
                with pytest.raises(LinkError) as wrong_try:
                    await redeem_link_code(uow, guesser, "webchat", guesser.address, wrong)
                assert wrong_try.value.reason == "wrong_code"
    async with store.uow() as uow:
        owner = await uow.people.get_or_create("webchat", "w-owner")
        with pytest.raises(LinkError) as paused:
            await redeem_link_code(uow, owner, "webchat", owner.address, code)  # even the right code waits
        assert paused.value.reason == "paused"
    clock.advance(minutes=11)
    async with store.uow() as uow:
        code = await issue_link_code(uow, victim, "sms", victim.address)
    async with store.uow() as uow:
        owner = await uow.people.get_or_create("webchat", "w-owner")
        assert (await redeem_link_code(uow, owner, "webchat", owner.address, code)).id == victim.id
    clock.advance(days=1, minutes=15)  # a day after the second code expired
    assert (await end_erasures(store))["link_attempts"] == 12 + 2  # the wrong tries and both codes
    await assert_ledger_invariants(store)


async def test_two_app_processes_on_redis_share_one_session_limit(
    app_db: Path, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """Behind a load balancer, N processes must not multiply a limit by N: on Redis the count of
    new sessions per address is one count for the whole service."""
    limits = {"sessions_per_ip_per_hour": 3}
    async with (
        running_app(app_db, tmp_path / "a", redis_url, redis_prefix, settings=limits, seed=False) as first,
        running_app(app_db, tmp_path / "b", redis_url, redis_prefix, settings=limits, seed=False) as second,
    ):
        statuses = [(await env["client"].post("/webchat/session")).status_code for env in (first, second, first, second)]
        assert statuses == [201, 201, 201, 429]
        other_address = httpx.ASGITransport(app=second["app"], client=("10.0.0.9", 40_000))
        async with httpx.AsyncClient(transport=other_address, base_url="http://test") as elsewhere:
            assert (await elsewhere.post("/webchat/session")).status_code == 201  # the limit is per address


async def test_redis_limits_count_across_clients_and_zero_turns_a_limit_off(redis_url: str, redis_prefix: str) -> None:
    from core.adapters.redis.limits import RedisLimits

    one, two = RedisLimits(redis_url, redis_prefix), RedisLimits(redis_url, redis_prefix)
    try:
        assert [await lim.hit("posts-ip", "1.2.3.4", 2, 60.0) for lim in (one, two, one)] == [True, True, False]
        assert await two.hit("posts-person", "1.2.3.4", 2, 60.0)  # another limit, its own count
        assert all([await one.hit("posts-ip", "5.6.7.8", 0, 60.0) for _ in range(5)])
    finally:
        await one.close()
        await two.close()
