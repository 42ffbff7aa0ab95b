"""Fuzzing the web-chat API (hypothesis): whatever arrives, the server answers below 500 and no
stored message crashes the flows that handle it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.adapters.sql.schema import inbox
from core.shared.queues import InboxStatus
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants, count_rows
from webhooks.demo import DEMO_USERS

# Limits off: the fuzzer sends hundreds of messages a minute as the same few people.
NO_LIMITS = {"person_rate_per_minute": 0, "ip_rate_per_minute": 0, "sessions_per_ip_per_hour": 0}

hostile_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["²", "①", "1e30", "6e1", "-60", "NaN", "Infinity", "9" * 29, "\x00", "\ud800", "/deposit donor-1 1e5",
                     "/deposit whatsapp:+919876543210 500", "/deposit " + "x" * 200 + " 1", "/capacity ²", "/link 12345６",
                     "/menu", "Curd rice -60", "/start", "24-0", "/link", "/cancel", "1", "yes", "ஆம்", "௧௨"]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    st.builds(lambda t: {"text": t}, hostile_text),
    st.builds(lambda b: {"button": b}, st.one_of(hostile_text, st.sampled_from(
        ["accept:99999999999999999999", "claim:-1", "deposit:yes:x", "deposit2:yes:1", "approve:worker:1", "lang:xx", "pay:1:2"]))),
    st.builds(lambda a, b: {"location": {"lat": a, "lng": b}}, json_values, json_values),
    json_values,
)
users = st.one_of(st.sampled_from(sorted(DEMO_USERS)), st.text(min_size=1, max_size=70))
paths = st.one_of(
    st.builds(lambda u: f"/webchat/{quote(u, safe='')}/messages", users),
    st.just("/webchat/messages"),
    st.builds(lambda u, p: f"/webchat/{quote(u, safe='')}/photos/{quote(p, safe='')}", users, st.text(min_size=1, max_size=80)),
    st.sampled_from(["/webchat/session", "/webchat/me", "/webchat/config", "/webchat/logout", "/webchat/admin-login",
                     "/api/ledger/balances", "/api/ledger/verify", "/healthz"]),
)
queries = st.dictionaries(st.sampled_from(["after", "wait", "exp", "sig", "token"]),
                          st.one_of(st.integers().map(str), st.sampled_from(["nan", "inf", "-1", "1e400", "9" * 30]), st.text(max_size=20)),
                          max_size=3)  # fmt: skip
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
headers = st.fixed_dictionaries({}, optional={"Idempotency-Key": header_text, "Authorization": header_text.map(lambda t: "Bearer " + t),
                                              "content-type": st.sampled_from(["application/json", "text/plain", "multipart/form-data",
                                                                               "multipart/form-data; boundary=x"])})  # fmt: skip


@pytest.fixture
async def fuzz_env(app_db: Path, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The demo app with the inbound limits off."""
    async with running_app(app_db, tmp_path / "var", settings=NO_LIMITS) as env:
        yield env


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST"]), path=paths, query=queries, body=bodies, raw=st.one_of(st.none(), st.binary(max_size=200)),
       extra=headers)  # fmt: skip
async def test_no_request_makes_a_server_error_or_a_failed_message(
    fuzz_env: dict[str, Any], method: str, path: str, query: dict[str, str], body: Any, raw: bytes | None, extra: dict[str, str]
) -> None:
    client = fuzz_env["client"]
    content = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if "content-type" not in extra:
        extra = {**extra, "content-type": "application/json"}
    response = await client.request(method, path, params=query, content=content if method == "POST" else None, headers=extra)
    assert response.status_code < 500, (method, path, query, body, response.text[:300])
    await fuzz_env["chat"].drain()
    async with fuzz_env["runtime"].store.reader() as uow:
        failed = await count_rows(uow, inbox, inbox.c.status == InboxStatus.FAILED)
    assert failed == 0, (method, path, body)


VERBS = ["role", "lang", "approve", "deny", "consent", "scene", "report", "meal", "tip", "pay", "cancel", "accept", "reject",
         "ready", "claim", "pickup", "delivered", "jobs", "deposit", "deposit2"]
numbers = st.one_of(st.integers(-5, 50), st.integers(2**31 - 2, 2**31 + 2), st.integers(2**63 - 1, 10**30), st.just(-(2**63) - 1))
buttons = st.builds(lambda verb, args: ":".join([verb, *args]), st.sampled_from(VERBS),
                    st.lists(st.one_of(numbers.map(str), hostile_text), min_size=1, max_size=3))
messages = st.one_of(st.builds(lambda b: {"button": b}, buttons), st.builds(lambda t: {"text": t}, hostile_text), bodies)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(user=st.sampled_from(sorted(DEMO_USERS)), body=messages)
async def test_hostile_messages_from_every_role_never_crash_a_flow(fuzz_env: dict[str, Any], user: str, body: Any) -> None:
    async with fuzz_env["runtime"].store.reader() as uow:
        failed_before = await count_rows(uow, inbox, inbox.c.status == InboxStatus.FAILED)
    content = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = await fuzz_env["client"].post(f"/webchat/{user}/messages", content=content, headers={"content-type": "application/json"})
    assert response.status_code < 500, (user, body, response.text[:300])
    await fuzz_env["chat"].drain()
    async with fuzz_env["runtime"].store.reader() as uow:
        assert await count_rows(uow, inbox, inbox.c.status == InboxStatus.FAILED) == failed_before, (user, body)


async def test_after_the_fuzzing_the_books_still_balance(fuzz_env: dict[str, Any]) -> None:
    client = fuzz_env["client"]
    for text in ("/deposit donor-1 1e5", "/deposit donor-1 ²", "/deposit donor-1 99999999999999999999999"):
        assert (await client.post("/webchat/admin/messages", json={"text": text})).status_code == 202
    await fuzz_env["chat"].drain()
    await assert_ledger_invariants(fuzz_env["runtime"].store)
