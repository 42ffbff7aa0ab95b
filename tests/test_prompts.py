"""Several open prompts per person: each option numbered uniquely among them, each answer finding
its own prompt, whichever arrived last — by button or by typed number, on SMS and Telegram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.sms import render_sms
from bot.telegram import _buttons
from core.prompts.model import Option, Prompt, number_block, superseded
from flows.messages import Choice, Outbound
from tests.channel_chat import channel_app, users_on
from tests.test_conversations import ORDER_CURD_RICE
from tests.test_every_channel import SMS_MEAL, fakes
from tests.test_meal_transcript import MEAL

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:telegram.warnings.PTBDeprecationWarning")

CAST: dict[str, Any] = {
    "telegram": "telegram",
    "sms": {"donor-1": "webchat", "*": "sms"},  # a photo cannot travel by SMS
}

# Worker-1 has delivered order #1 and is asked how it went; then order #2 is offered to them.
SECOND_ORDER = """
    donor-1  > [photo]
    donor-1  < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
    donor-1  > [press consent:yes]
    donor-1  < Thank you. Now share the location where the person is
    donor-1  > [location 13.0827, 80.2707]
    donor-1  < What is the place like right now? [Busy and well lit]
    donor-1  > [press scene:busy_lit]
    donor-1  < Meals near this person [Veg biryani]
    donor-1  > [tap Veg biryani]
    donor-1  < Would you like to add a tip for the delivery worker? [No tip]
    donor-1  > [tap No tip]
    donor-1  < Meal ₹80 + delivery ₹30 + tip ₹0 = ₹110 [Pay ₹110] [Cancel]
    donor-1  > [tap Pay]
    donor-1  < Paid ₹110. Order #2 for Veg biryani is with Saravana Kitchen
    rest-2   < New order #2 [Accept] [Reject]
    rest-2   > [tap Accept]
    rest-2   < Accepted order #2
    donor-1  < Saravana Kitchen accepted order #2
    worker-2 < New job #2: pick up at Saravana Kitchen [Claim]
    worker-3 < New job #2: pick up at Saravana Kitchen [Claim]
"""
OFFER = "worker-1 < New job #2: pick up at Saravana Kitchen [Claim]"
CLAIM = """
    worker-1 > [tap Claim]
    worker-1 < Job #2 is yours [Picked up]
    donor-1  < Murugan will deliver order #2.
    rest-2   < Murugan will deliver order #2.
"""
REPORT = """
    worker-1 > [tap It went well]
    worker-1 < Thank you! [Show jobs]
"""


def test_a_new_prompt_takes_the_lowest_free_run_of_numbers() -> None:
    assert number_block([], 2) == [1, 2]
    assert number_block([1, 2], 2) == [3, 4]
    assert number_block([3, 4], 2) == [1, 2]
    assert number_block([1, 3], 2) == [4, 5]  # one prompt's numbers stay consecutive


def test_asking_the_same_question_again_replaces_the_open_one() -> None:
    offer = Prompt(7, 1, "claim", (Option(1, "Claim", "claim:2"),), "2026-01-01T00:00:00+00:00")
    report = Prompt(8, 1, "report", (Option(2, "OK", "report:1:ok"), Option(3, "Issue", "report:1:issue")), "")
    assert superseded([offer, report], ["claim:2"]) == [7]
    assert superseded([offer, report], ["claim:3"]) == []


def test_sms_and_telegram_fallback_print_the_options_own_numbers() -> None:
    offer = Outbound("New job #2.", (Choice("Claim", "claim:2", number=4),))
    assert render_sms(offer, "en") == "New job #2.\nReply 4 for Claim."
    report = Outbound("How did it go?", (Choice("It went well", "report:1:ok", 1), Choice("Show me every open job", "jobs:", 2)))
    assert render_sms(report, "en").endswith("1 It went well\n2 Show me every open job\nReply with a number.")
    long_payload = Outbound("Pick one", (Choice("A", "x" * 80, number=3), Choice("B", "y" * 80, number=4)))
    assert _buttons(long_payload.text, long_payload.choices) == ("Pick one\n\n3. A\n4. B", None)


@pytest.mark.parametrize("offer_first", [True, False], ids=["offer-then-report", "report-then-offer"])
@pytest.mark.parametrize("channel", ["sms", "telegram"])
async def test_a_worker_answers_a_job_offer_and_a_report_request_in_either_order(
    channel: str, offer_first: bool, app_db: Path, tmp_path: Path
) -> None:
    users = users_on(CAST[channel])
    with fakes(channel) as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat = env["chat"]
            await chat.run(SMS_MEAL if channel == "sms" else MEAL)
            await chat.run(SECOND_ORDER + OFFER)
            seen = (await chat.fetch("worker-1")).seen
            offer = next(m for m in reversed(seen) if "New job #2" in m.text)
            report = next(m for m in reversed(seen) if "Delivered order #1" in m.text)
            if channel == "sms":  # the offer is numbered after the report request still open
                assert [b.value for b in report.buttons] == ["1", "2", "3", "4"]  # … Show jobs, Report a problem
                assert [b.value for b in offer.buttons] == ["5"] and "Reply 5 for Claim." in offer.text
            else:
                assert [b.kind for b in offer.buttons + report.buttons] == ["callback"] * 5
            await chat.run(CLAIM + REPORT if offer_first else REPORT + CLAIM)
            # The report answered again by its button, and a number no prompt carries.
            if channel == "telegram":
                await chat.run("""
                    worker-1 > [press report:1:ok]
                    worker-1 < That question has already been answered.
                """)
            await chat.run("""
                worker-1 > 9
                worker-1 < Sorry, I did not understand that.
            """)
            async with env["runtime"].store.reader() as uow:
                order = await uow.orders.get(2)
                assert order is not None and order.status.value == "claimed"
                worker = await uow.people.find(users["worker-1"].channel, users["worker-1"].address)
                assert worker is not None
                still_open = {o.payload for p in await uow.prompts.open_for(worker.id) for o in p.options}
            assert still_open == {"pickup:2", "jobs:"}  # the offer and the report request are answered


async def test_a_typed_number_answered_before_gets_the_polite_reply_when_not_reused(app_db: Path, tmp_path: Path) -> None:
    users = users_on(CAST["sms"])
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat = env["chat"]
            await chat.run(SMS_MEAL + SECOND_ORDER + OFFER + REPORT + CLAIM)
            # The report (1-3) was answered and "Thank you! [Show jobs]" took 1; the claim took 4
            # and "Picked up" the lowest free number, 2: so 4 now names only the answered offer.
            await chat.run("""
                worker-1 > 4
                worker-1 < That question has already been answered.
                worker-1 > 2
                worker-1 < Picked up order #2
                donor-1  < Order #2 was picked up and is on its way.
            """)


async def test_an_expired_prompt_answers_politely_and_a_job_offer_waits_for_its_job(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ORDER_CURD_RICE)
    app_env["clock"].advance(hours=7)  # accept/reject prompts are open for 6 hours
    await chat.run("""
        rest-1   > [tap Accept]
        rest-1   < That offer has expired. Send /help to see what you can do.
    """)
    app_env["clock"].advance(hours=-7)
    await chat.run("""
        rest-1   > [tap Accept]
        rest-1   < Accepted order #1 [Ready]
        donor-1  < Annapoorna Mess accepted order #1 and is cooking. Now finding a delivery worker.
        worker-1 < New job #1 [Claim]
        worker-2 < New job #1 [Claim]
        worker-3 < New job #1 [Claim]
    """)
    app_env["clock"].advance(days=2)  # a job offer has no clock: it lasts as long as the job
    await chat.run("""
        worker-1 > 1
        worker-1 < Job #1 is yours
        donor-1  < Murugan will deliver order #1.
        rest-1   < Murugan will deliver order #1.
    """)


def test_the_last_buttons_shown_before_the_upgrade_become_an_open_prompt(tmp_path: Path) -> None:
    import sqlite3

    from core.adapters.sql.migrate import upgrade

    path = tmp_path / "old.db"
    upgrade(f"sqlite:///{path}", "0007")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO people (id, channel, address, created_at) VALUES (5, 'sms', '+919840000001', 'x')")
        conn.execute("""INSERT INTO conversations (person_id, state, updated_at, choices)
                        VALUES (5, '{"step": null}', 'x', '[["Accept", "accept:3"], ["Reject", "reject:3"]]')""")
    upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT person_id, kind, options, answered_at FROM prompts").fetchall()
        columns = [c[1] for c in conn.execute("PRAGMA table_info(conversations)")]
    assert rows == [(5, "accept", '[[1, "Accept", "accept:3"], [2, "Reject", "reject:3"]]', None)]
    assert "choices" not in columns
