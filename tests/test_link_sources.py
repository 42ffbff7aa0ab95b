"""Wrong link codes per source: web-chat sessions opened from one network count at most
LINK_CODE_SOURCE_FAILURES wrong codes toward the service-wide budget (then that network waits,
uncounted), so one network with many sessions cannot pause linking for everyone — while guesses
from many networks still do, and each person's own 5 tries stay as they were."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.webchat import session_source
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.members.identity import (
    LINK_CODE_SERVICE_FAILURES,
    LINK_CODE_SOURCE_FAILURES,
    LINK_CODE_TRIES,
    LinkError,
    issue_link_code,
    open_session,
    redeem_link_code,
)
from core.members.model import Person
from tests.clock import FixedClock
from tests.conftest import running_app

SECRET = b"s" * 32


@pytest.fixture(params=["sqlite", "postgres"])
async def own_db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A database of this test's own: the wrong codes it stores (dated years ahead) would pause
    linking in any later test sharing the database, as the pause counts every failure stored
    since ten minutes ago."""
    if request.param == "sqlite":
        path = request.getfixturevalue("tmp_path") / "own.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("pg_fresh_url"))
    yield db
    await db.dispose()


def test_a_source_is_a_keyed_tag_of_the_network_never_the_address() -> None:
    home = session_source(SECRET, "2001:db8:1:2::10")
    assert session_source(SECRET, "2001:db8:1:2:ffff::1") == home  # one IPv6 /64: one household
    assert session_source(SECRET, "2001:db8:1:3::10") != home
    assert session_source(SECRET, "::ffff:198.51.100.7") == session_source(SECRET, "198.51.100.7")
    assert session_source(SECRET, "198.51.100.7") != session_source(SECRET, "198.51.100.8")
    assert session_source(b"t" * 32, "198.51.100.7") != session_source(SECRET, "198.51.100.7")
    assert "198" not in session_source(SECRET, "198.51.100.7") and len(home) <= 64


async def try_code(store: Store, person: Person, code: str) -> str:
    """What one try of a link code by a web-chat person does: "linked" or the refusal's reason."""
    async with store.uow() as uow:
        try:
            await redeem_link_code(uow, person, "webchat", person.address, code)
        except LinkError as exc:
            return exc.reason
    return "linked"


async def visitor(store: Store, source: str) -> Person:
    """A new web-chat visitor whose session was opened from `source`."""
    async with store.uow() as uow:
        _token, session = await open_session(uow, source=source)
        return await uow.people.get_or_create("webchat", session.address)


async def victim_code(store: Store, tag: str) -> tuple[Person, str, str]:
    """Someone on SMS asks for a link code; return them, the code and a wrong one."""
    async with store.uow() as uow:
        victim = await uow.people.get_or_create("sms", f"+91{uuid.uuid4().int % 10**10:010d}")
        code = await issue_link_code(uow, victim, "sms", victim.address)
    return victim, code, "00000000" if code != "00000000" else "11111111"


async def test_one_network_with_many_sessions_does_not_pause_linking_for_others(own_db: Database) -> None:
    store = Store(own_db, FixedClock(datetime(2031, 1, 5, 6, 0, tzinfo=UTC)))
    tag = uuid.uuid4().hex[:12]
    victim, code, wrong = await victim_code(store, tag)
    attacker = f"ip:attacker-{tag}"
    sessions = LINK_CODE_SERVICE_FAILURES // LINK_CODE_TRIES + 1  # enough to pause linking without a cap
    reasons = [[await try_code(store, p, wrong) for _ in range(LINK_CODE_TRIES + 1)]
               for p in [await visitor(store, attacker) for _ in range(sessions)]]  # fmt: skip
    per_source = LINK_CODE_SOURCE_FAILURES // LINK_CODE_TRIES
    assert reasons[:per_source] == [["wrong_code"] * LINK_CODE_TRIES + ["too_many"]] * per_source  # 5 each, as before
    assert reasons[per_source:] == [["source_busy"] * (LINK_CODE_TRIES + 1)] * (sessions - per_source)
    since = (datetime(2031, 1, 5, 6, 0, tzinfo=UTC) - timedelta(minutes=10)).isoformat()
    async with store.reader() as uow:
        assert await uow.identity.link_failures_from(attacker, since) == LINK_CODE_SOURCE_FAILURES
    # Someone else, from another network, still links with the right code.
    owner = await visitor(store, f"ip:home-{tag}")
    assert await try_code(store, owner, code) == "linked"
    async with store.reader() as uow:
        assert (await uow.people.find("webchat", owner.address)).id == victim.id  # type: ignore[union-attr]


async def test_wrong_codes_from_many_networks_still_pause_linking_for_everyone(own_db: Database) -> None:
    store = Store(own_db, FixedClock(datetime(2031, 2, 7, 6, 0, tzinfo=UTC)))
    tag = uuid.uuid4().hex[:12]
    _victim, code, wrong = await victim_code(store, tag)
    networks = LINK_CODE_SERVICE_FAILURES // LINK_CODE_SOURCE_FAILURES
    for n in range(networks):  # each network stays within its share: every wrong code counts
        for _ in range(LINK_CODE_SOURCE_FAILURES // LINK_CODE_TRIES):
            guesser = await visitor(store, f"ip:net{n}-{tag}")
            assert [await try_code(store, guesser, wrong) for _ in range(LINK_CODE_TRIES)] == ["wrong_code"] * LINK_CODE_TRIES
    owner = await visitor(store, f"ip:home-{tag}")
    assert await try_code(store, owner, code) == "paused"  # even the right code waits, as before
    async with store.uow() as uow:  # a chat with no web session (SMS) waits as well
        texter = await uow.people.get_or_create("sms", f"+91{uuid.uuid4().int % 10**10:010d}")
        with pytest.raises(LinkError) as paused:
            await redeem_link_code(uow, texter, "sms", texter.address, code)
    assert paused.value.reason == "paused"


async def post_text(client: httpx.AsyncClient, token: str, text: str) -> None:
    """Send text as a session."""
    response = await client.post("/webchat/messages", json={"text": text}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text


async def answers(client: httpx.AsyncClient, token: str) -> list[str]:
    """Every message a session has received."""
    response = await client.get("/webchat/messages", headers={"Authorization": f"Bearer {token}"})
    return [m["text"] for m in response.json()["messages"]]


async def test_over_http_sessions_opened_from_one_address_share_one_allowance(app_db: Path, tmp_path: Path) -> None:
    async with running_app(app_db, tmp_path / "var", client_address=("198.51.100.7", 40_000)) as env:
        client, drain = env["client"], env["runtime"].processor.drain
        elsewhere = httpx.AsyncClient(transport=httpx.ASGITransport(app=env["app"], client=("203.0.113.9", 40_000)),
                                      base_url="http://test")  # fmt: skip
        tokens = [(await client.post("/webchat/session")).json()["token"] for _ in range(5)]
        for token in tokens:
            for _ in range(LINK_CODE_TRIES):
                await post_text(client, token, "/link 00000000")
                await drain()
        wrong = "That code is not valid or has expired. Send /link in your other chat to get a new one."
        busy = "Many wrong link codes came from where you are connecting. Please wait 10 minutes, then try again."
        for token in tokens[:4]:
            assert await answers(client, token) == [wrong] * LINK_CODE_TRIES
        assert await answers(client, tokens[4]) == [busy] * LINK_CODE_TRIES
        # In the person's language; and a visitor from another address is not held up.
        async with env["runtime"].store.uow() as uow:
            me = (await client.get("/webchat/me", headers={"Authorization": f"Bearer {tokens[4]}"})).json()["address"]
            person = await uow.people.find("webchat", me)
            assert person is not None
            await uow.people.set_language(person.id, "ta")
        await post_text(client, tokens[4], "/link 00000000")
        other = (await elsewhere.post("/webchat/session")).json()["token"]
        await post_text(elsewhere, other, "/link 00000000")
        await drain()
        assert (await answers(client, tokens[4]))[-1].startswith("நீங்கள் இணையும் இடத்திலிருந்து")
        assert await answers(elsewhere, other) == [wrong]
        await elsewhere.aclose()
