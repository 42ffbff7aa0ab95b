"""Hostile and odd input: every number, text and location a person sends is read strictly, refused
politely in their language when it makes no sense, and never breaks their conversation."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.processor import clean_text
from bot.webchat import WebchatInputError, parse_json
from core.adapters.sql.db import Database
from core.adapters.sql.schema import inbox
from core.adapters.sql.uow import Store
from core.ledger import service as money
from core.ledger.model import DEPOSITS, MAX_POSTING, Posting, PostingTooLarge, donor_account, transfer
from core.ledger.params import PARAM_NAMES, Params
from core.members import registration
from flows.numbers import MAX_ID, read_int, read_rupees
from flows.onboarding import parse_hours, parse_menu
from tests.clock import FixedClock
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants, seed_coop
from tests.test_conversations import ORDER_CURD_RICE, balance_of

NOON = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
HOSTILE_NUMBERS = ["²", "①", "٣", "1e30", "6e1", "-60", "+60", "NaN", "Infinity", "9" * 29, "0x10", "1_000", " ", ""]


# --- A. one number reader ---------------------------------------------------------------------------


@given(st.text(), st.integers(-(2**70), 2**70), st.integers(-(2**70), 2**70))
def test_the_number_reader_returns_a_number_in_range_or_none_and_never_raises(text: str, low: int, high: int) -> None:
    value = read_int(text, low, high)
    assert value is None or (low <= value <= high and isinstance(value, int))
    paise = read_rupees(text, max(high, 1))
    assert paise is None or 1 <= paise <= max(high, 1)


@given(st.integers(0, 10**15 - 1))  # rupees are read up to 15 digits
def test_every_plain_number_reads_back_as_itself_in_ascii_and_tamil_digits(n: int) -> None:
    tamil = str(n).translate(str.maketrans("0123456789", "௦௧௨௩௪௫௬௭௮௯"))
    assert read_int(str(n), 0, 10**15) == n
    assert read_int(tamil, 0, 10**15) == n
    assert read_rupees(f"{n}.5", 10**18) == n * 100 + 50


@pytest.mark.parametrize("said", HOSTILE_NUMBERS)
def test_superscripts_other_scripts_signs_exponents_and_huge_numbers_are_not_numbers(said: str) -> None:
    assert read_int(said, 0, 10**18) is None
    assert read_rupees(said, MAX_POSTING) is None
    assert read_int(said, 1, MAX_ID) is None


def test_amounts_allow_two_decimals_grouping_and_the_rupee_sign_only() -> None:
    assert read_rupees("₹1,00,000", MAX_POSTING) == 10_000_000
    assert read_rupees("60.50", MAX_POSTING) == 6_050
    assert read_rupees("௬௦", MAX_POSTING) == 6_000
    assert [read_rupees(s, MAX_POSTING) for s in ("60.005", "1,2", "0", "0.00", "1e5", "-5", "60.")] == [None] * 7
    assert read_rupees("2000", 200_000) == 200_000 and read_rupees("2000.01", 200_000) is None
    assert read_int(str(MAX_ID), 1, MAX_ID) == MAX_ID and read_int(str(MAX_ID + 1), 1, MAX_ID) is None


async def test_hostile_numbers_in_capacity_typed_choices_and_buttons_get_polite_answers(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run("""
        rest-2   > /capacity ²
        rest-2   < Please send a number of meals per day from 0 to 1000
        rest-2   > ①
        rest-2   < Please send a number of meals per day from 0 to 1000
        rest-2   > 99999999999999999999999999999
        rest-2   < Please send a number of meals per day from 0 to 1000
        rest-2   > -5
        rest-2   < Please send a number of meals per day from 0 to 1000
        rest-2   > அளவு ௧௨
        rest-2   < You now pledge 12 meals a day; 12 are left today.
    """ + ORDER_CURD_RICE + """
        rest-1   > ²
        rest-1   < Sorry, I did not understand that. You can reply with a number: 1 Accept · 2 Reject
        rest-1   > 99999999999999999999999999999
        rest-1   < Sorry, I did not understand that. You can reply with a number: 1 Accept · 2 Reject
    """)
    for payload in ("accept:99999999999999999999999999999", "accept:²", "accept:-1", f"accept:{MAX_ID + 1}", "claim:1e30"):
        user = "worker-1" if payload.startswith("claim") else "rest-1"
        response = await chat.client.post(f"/webchat/{user}/messages", json={"button": payload})
        assert response.status_code == 202
        await chat.drain()
        await chat.expect(user, "That button is no longer active. Send /help to see what you can do.")
    await chat.run("""
        rest-1   > [tap Accept]
        rest-1   < Accepted order #1: Curd rice. [Ready]
        donor-1  < Annapoorna Mess accepted order #1 and is cooking.
        worker-1 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-2 < New job #1: pick up at Annapoorna Mess [Claim]
        worker-3 < New job #1: pick up at Annapoorna Mess [Claim]
    """)
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_a_restaurant_registering_with_odd_numbers_is_asked_again_until_it_makes_sense(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run("""
        amma > /start
        amma < Choose your language [தமிழ்] [English]
        amma > [press lang:en]
        amma < What would you like to do? [Feed someone] [I run a restaurant] [I deliver meals]
        amma > [press role:restaurant]
        amma < What is your restaurant's name?
        amma > Amma Mess
        amma < Share the restaurant's location
        amma > [location 13.0840, 80.2712]
        amma < What is the street address
        amma > 5 Mint Street
        amma < Send your alms meals, one per line with the price in rupees
        amma > Curd rice 6e1
        amma < I could not read this line: "Curd rice 6e1". Write the name, a space and the price in rupees
        amma > Curd rice 60.005
        amma < I could not read this line: "Curd rice 60.005". Write the name, a space and the price in rupees
        amma > Curd rice -60
        amma < I could not read this line: "Curd rice -60". Write the name, a space and the price in rupees
        amma > Thali 2000.01
        amma < The price of Thali is above ₹2,000, the most an alms meal may cost. Please send the menu again.
    """)
    await chat.send("amma", "Thali 2000\nCurd rice 60")
    await chat.run("""
        amma < How many alms meals can you cook each day?
        amma > ①
        amma < Please send a number of meals per day, for example 20.
        amma > ²
        amma < Please send a number of meals per day, for example 20.
        amma > 1001
        amma < Please send a number of meals per day from 1 to 1000, for example 20.
        amma > 1000
        amma < When do you take orders? Send hours like 11-22, or 'all day'.
        amma > 24-0
        amma < Please send hours like 11-22, or 'all day'.
        amma > 25-3
        amma < Please send hours like 11-22, or 'all day'.
        amma > 10-10
        amma < Please send hours like 11-22, or 'all day'.
        amma > 11-22
        amma < Thank you! Amma Mess is registered and waiting for an admin's approval.
        admin < Amma Mess, 5 Mint Street. 1000 meals a day: Curd rice ₹60, Thali ₹2,000 · webchat:amma [Approve] [Reject]
    """)
    async with app_env["runtime"].store.reader() as uow:
        person = await uow.people.find("webchat", "amma")
        restaurant = await uow.restaurants.by_person(person.id)
    assert [(m.name, m.price) for m in restaurant.menu] == [("Curd rice", 6_000), ("Thali", 200_000)]
    assert (restaurant.daily_capacity, restaurant.open_minute, restaurant.close_minute) == (1000, 660, 1320)


# --- B. menus and hours -----------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["Curd rice -60", "Curd rice 6e1", "Curd rice 60.005", "Curd rice ²", "Curd rice 1e30",
                                  "Curd rice NaN", "Curd rice ₹-60", "Curd rice 9999999999999999999999", "Curd rice: -60"])  # fmt: skip
def test_menu_lines_whose_price_would_need_a_guess_are_refused(line: str) -> None:
    assert parse_menu(line) is None


def test_menu_lines_read_exactly_what_was_written() -> None:
    assert parse_menu("Pongal - ₹45\nCurd rice: 60.50\nIdli and sambar (4) 50\nதயிர் சாதம் ௬௦\nMeals ₹ 1,200") == [
        ("Pongal", 4_500), ("Curd rice", 6_050), ("Idli and sambar (4)", 5_000), ("தயிர் சாதம்", 6_000), ("Meals", 120_000),
    ]  # fmt: skip


@pytest.mark.parametrize("said", ["24-0", "25-3", "10-10", "0-0", "24:30-2", "11:60-22", "²-5", "1e1-22", "-1-5"])
def test_hours_that_never_open_or_cannot_exist_are_refused(said: str) -> None:
    assert parse_hours(said) is None


def test_ordinary_hours_still_read() -> None:
    assert [parse_hours(s) for s in ("11-22", "7:30-21", "22-2", "0-24", "௧௧-௨௨", "all day")] == [
        (660, 1320), (450, 1260), (1320, 120), (0, 1440), (660, 1320), (0, 1440),
    ]  # fmt: skip


async def test_a_menu_change_names_the_unreadable_line_and_then_works(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        rest-1 > /menu
        rest-1 < Your alms menu:
        rest-1 > Curd rice -60
        rest-1 < I could not read this line: "Curd rice -60". Write the name, a space and the price in rupees
        rest-1 > Curd rice 6e1
        rest-1 < I could not read this line: "Curd rice 6e1". Write the name, a space and the price in rupees
        rest-1 > Curd rice 60
        rest-1 < Your alms menu now has 1 meal. Orders already placed keep theirs.
    """)


# --- C. ceilings --------------------------------------------------------------------------------------


async def test_deposits_with_exponents_signs_or_other_digits_credit_nothing(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    for amount in ("1e5", "-60", "NaN", "Infinity", "60.005", "²", "9" * 29):
        await chat.send("admin", f"/deposit donor-1 {amount}")
        await chat.expect("admin", "Usage: /deposit <member number or phone> <rupees>, for example /deposit #12 500")
    await chat.all_read()
    assert await balance_of(app_env, "donor", "donor-1") == 100_000
    await chat.run("""
        admin > /deposit donor-1 100000.01
        admin < Nothing was recorded: one deposit can be at most ₹1,00,000.
        admin > /deposit donor-1 100000
        admin < Record ₹1,00,000 received for Demo donor (member #7)? [Confirm] [Cancel]
    """)  # exactly the ceiling is accepted (and, above ₹10,000, waits for a second admin: tests/test_security.py)
    async with app_env["runtime"].store.reader() as uow:
        assert max(abs(v) for v in (await uow.ledger.balances()).values()) <= 10**12
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_a_governed_capacity_ceiling_is_what_the_restaurant_is_told(app_env: dict[str, Any]) -> None:
    async with app_env["runtime"].store.uow() as uow:
        await uow.params.change("max_capacity", 50, "proposal:1")
    await app_env["chat"].run("""
        rest-2 > /capacity 51
        rest-2 < Please send a number of meals per day from 0 to 50, for example 20.
        rest-2 > 50
        rest-2 < You now pledge 50 meals a day; 50 are left today.
    """)


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


async def test_core_accepts_exactly_each_ceiling_and_refuses_one_more(store: Store) -> None:
    tag = uuid.uuid4().hex[:8]
    coop = await seed_coop(store, tag)
    params = Params()
    async with store.uow() as uow:
        await money.record_deposit(uow, coop.donor.id, params.max_deposit, f"dep-{tag}", coop.admin.actor, "cash")
        with pytest.raises(money.DepositTooLarge):
            await money.record_deposit(uow, coop.donor.id, params.max_deposit + 1, f"dep2-{tag}", coop.admin.actor, "cash")
        await registration.replace_menu(uow, coop.restaurants[0], [("Thali", params.max_price)], coop.admin.actor)
        with pytest.raises(registration.RegistrationError, match="price_too_high"):
            await registration.replace_menu(uow, coop.restaurants[0], [("Thali", params.max_price + 1)], coop.admin.actor)
        await registration.set_daily_capacity(uow, coop.restaurants[0], params.max_capacity, coop.admin.actor)
        with pytest.raises(registration.RegistrationError, match="bad_capacity"):
            await registration.set_daily_capacity(uow, coop.restaurants[0], params.max_capacity + 1, coop.admin.actor)
    async with store.reader() as uow:
        assert await uow.ledger.balance(donor_account(coop.donor.id)) == params.max_deposit
        assert [(m.name, m.price) for m in (await uow.restaurants.get(coop.restaurants[0].id)).menu] == [("Thali", 200_000)]
    await assert_ledger_invariants(store)


async def test_the_ledger_refuses_a_posting_beyond_its_hard_bound_so_sums_cannot_overflow(store: Store) -> None:
    # Two postings of 5×10^18 paise once made SUM overflow on SQLite, for good: the ledger is append-only.
    assert Posting("donor:1", MAX_POSTING).amount == MAX_POSTING
    for amount in (MAX_POSTING + 1, -(MAX_POSTING + 1), 5 * 10**18):
        with pytest.raises(PostingTooLarge):
            Posting("donor:1", amount)
    tag = uuid.uuid4().hex[:8]
    async with store.uow() as uow:
        for i in range(2):
            await uow.ledger.record(transfer("deposit", f"big-{tag}-{i}", DEPOSITS, f"donor:big-{tag}", MAX_POSTING), "test")
    async with store.reader() as uow:
        assert (await uow.ledger.balances(f"donor:big-{tag}"))[f"donor:big-{tag}"] == 2 * MAX_POSTING
    await assert_ledger_invariants(store)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A brand-new migrated database, SQLite or PostgreSQL, with no parameter set yet."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_fresh_url"))
    path = tmp_path / "fresh.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


async def test_a_database_from_before_the_ceilings_gets_them_at_start(fresh_url: str) -> None:
    db = Database(fresh_url)
    store = Store(db, FixedClock(NOON))
    new = ("max_deposit", "max_price", "max_pledge", "max_capacity")
    try:
        async with store.uow() as uow:  # the parameters as an older release recorded them
            for name in PARAM_NAMES:
                if name not in new:
                    await uow.params.change(name, getattr(Params(), name), "setup")
        async with store.uow() as uow:  # the start of this release
            await uow.params.ensure_initial(Params(max_deposit=5_000_000))
        async with store.reader() as uow:
            assert [(v, s) for v, _at, s in await uow.params.history("max_deposit")] == [(5_000_000, "setup")]
            assert (await uow.params.current()).max_capacity == 1_000
            assert len(await uow.params.history("delivery_fee")) == 1
    finally:
        await db.dispose()


def test_ceilings_must_be_positive_and_within_the_hard_bound() -> None:
    for bad in ({"max_deposit": 0}, {"max_price": MAX_POSTING + 1}, {"max_capacity": 2**31}):
        with pytest.raises(ValueError):
            Params(**bad).validate()


# --- D. text --------------------------------------------------------------------------------------


@given(st.text())
def test_cleaned_text_is_storable_anywhere_and_cleaning_is_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # no lone surrogate left
    assert not any(ord(c) < 32 and c not in "\n\t" for c in cleaned)
    assert clean_text(cleaned) == cleaned


def test_cleaning_keeps_tamil_newlines_and_emoji() -> None:
    assert clean_text("மு\u0bb0ுகன்\n\t😀\x00\x07\ud800") == "முருகன்\n\t😀\ufffd"


async def post_raw(chat: Any, user: str, body: dict[str, Any]) -> None:
    """Post JSON with escapes, as a client may (lone surrogates cannot be sent as UTF-8)."""
    response = await chat.post(user, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    await chat.drain()


WORKER_SIGNUP = """
    {user} > /start
    {user} < Choose your language [தமிழ்] [English]
    {user} > [press lang:en]
    {user} < What would you like to do? [Feed someone] [I run a restaurant] [I deliver meals]
    {user} > [press role:worker]
    {user} < What is your name?
"""


async def register_worker_with_odd_name(chat: Any, user: str) -> None:
    """Sign a worker up with NUL, a control and a lone surrogate in the name, then share locations."""
    await chat.run(WORKER_SIGNUP.format(user=user))
    await post_raw(chat, user, {"text": "Mur\x00u\x07gan\ud800"})
    await chat.run(f"""
        {user} < Share your location: you will see delivery jobs around it.
        {user} > [location 13.0830, 80.2700]
        {user} < Thank you! You are registered and waiting for an admin's approval.
        admin  < Murugan\ufffd · 13.08, 80.27 · webchat:{user} [Approve] [Reject]
        {user} > [location 13.0850, 80.2720]
        {user} < Your zone is updated. Once an admin approves you, you will see jobs around this place.
    """)
    await post_raw(chat, user, {"text": "hello\x00\ud800"})
    await chat.expect(user, "Sorry, I did not understand that. Send /help to see what you can do.")
    await chat.all_read()


async def test_a_name_with_a_lone_surrogate_and_nul_registers_and_the_chat_goes_on(app_env: dict[str, Any]) -> None:
    await register_worker_with_odd_name(app_env["chat"], "murugan")
    async with app_env["runtime"].store.reader() as uow:
        person = await uow.people.find("webchat", "murugan")
        worker = await uow.workers.by_person(person.id)
    assert worker.name == person.name == "Murugan\ufffd"


async def test_a_message_stored_before_cleaning_existed_is_cleaned_when_it_is_handled(app_env: dict[str, Any]) -> None:
    chat, runtime = app_env["chat"], app_env["runtime"]
    await chat.run(WORKER_SIGNUP.format(user="karthik"))
    async with runtime.store.uow() as uow:  # written straight to the inbox, as an older release stored it
        await uow.inbox.store("webchat", "old-row", "karthik", {"kind": "text", "text": "Kar\x00thik\ud800"})
    runtime.processor.kick("webchat", "karthik")
    await chat.drain()
    await chat.run("""
        karthik < Share your location: you will see delivery jobs around it.
        karthik > [location 13.0830, 80.2700]
        karthik < Thank you! You are registered and waiting for an admin's approval.
        admin   < Karthik\ufffd · 13.08, 80.27 · webchat:karthik [Approve] [Reject]
    """)


async def test_on_postgresql_odd_text_is_stored_clean_and_answered(pg_fresh_url: str, tmp_path: Path) -> None:
    async with running_app(pg_fresh_url, tmp_path / "var") as env:
        await register_worker_with_odd_name(env["chat"], "murugan")
        async with env["runtime"].store.reader() as uow:
            rows = await uow.conn.execute(select(inbox.c.payload, inbox.c.status).where(inbox.c.address == "murugan"))
            stored = [(json.loads(payload), status) for payload, status in rows]
    assert all(status == "done" for _, status in stored), stored
    texts = [p["text"] for p, _ in stored if p.get("text")]
    assert "Murugan\ufffd" in texts and "hello\ufffd" in texts
    assert not any("\x00" in t or "\ud800" in t for t in texts)


async def test_a_name_longer_than_the_column_is_refused_politely(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(WORKER_SIGNUP.format(user="longname"))
    await chat.send("longname", "க" * 200)
    await chat.run("""
        longname < Please type your name (2 to 80 letters).
        longname > Lakshmi Devi
        longname < Share your location: you will see delivery jobs around it.
    """)
    with pytest.raises(registration.RegistrationError, match="bad_name"):
        registration.check_name("x" * 121)


# --- E. web chat locations ------------------------------------------------------------------------


@pytest.mark.parametrize("location", [
    {"lat": 10**400, "lng": 80.27}, {"lat": 13.08, "lng": -(10**400)}, {"lat": float("inf"), "lng": 80.27},
    {"lat": True, "lng": 80.27}, {"lat": 13.08, "lng": False}, {"lat": "nan", "lng": 80.27}, {"lat": None, "lng": 1},
    {"lat": [13], "lng": 80.27}, {"lat": 13.08}, [13.08, 80.27], "13.08,80.27",
])  # fmt: skip
def test_locations_that_are_not_two_finite_numbers_are_refused_with_a_reason(location: Any) -> None:
    with pytest.raises(WebchatInputError, match="latitude|location"):
        parse_json({"location": location})


async def test_a_400_digit_location_is_a_422_and_impossible_places_get_the_flows_reply(app_env: dict[str, Any]) -> None:
    client, chat = app_env["client"], app_env["chat"]
    for body in ('{"location": {"lat": 1' + "0" * 400 + ', "lng": 80.27}}', '{"location": {"lat": 1e400, "lng": 80.27}}',
                 '{"location": {"lat": true, "lng": 80.27}}'):  # fmt: skip
        response = await client.post("/webchat/worker-1/messages", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert "latitude" in response.json()["error"] or "location" in response.json()["error"]
    await chat.run("""
        worker-1 > [location 95.0, 80.27]
        worker-1 < That location is not a real place on the map. Please share it again.
        worker-1 > [location 13.0827, 80.2707]
        worker-1 < Your zone is updated. You will see jobs around this place. [Show jobs]
    """)
