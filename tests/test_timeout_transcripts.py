"""Stuck orders by chat: a restaurant that never answers, a job nobody claims (web chat)."""

from __future__ import annotations

from typing import Any

from core.schedule.jobs import time_out_stuck_orders
from tests.helpers import assert_ledger_invariants
from tests.test_meal_transcript import MEAL

ORDERED = MEAL.split("    rest-2   > [tap Accept]")[0]


async def _later(env: dict[str, Any], minutes: int) -> None:
    """Move the app's clock on and run the timeout job as the scheduler would."""
    env["clock"].advance(minutes=minutes)
    await time_out_stuck_orders(env["runtime"].store, env["runtime"].board)


async def test_a_restaurant_that_never_answers_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ORDERED)
    await _later(app_env, 10)
    await chat.run("""
        rest-2   < Order #1 had no answer for 10 minutes, so it has moved on. Please do not cook it. Thank you all the same!
        rest-1   < New order #1
        donor-1  < The first restaurant could not cook order #1
        rest-2   > [tap Accept]
        rest-2   < Order #1 has moved on to another restaurant or back to the donor. Please do not cook it.
    """)
    await assert_ledger_invariants(app_env["runtime"].store)


ACCEPTED = MEAL.split("    worker-1 > [tap Claim]")[0]


async def test_a_job_nobody_claims_the_donor_cancels_and_the_kitchen_is_paid_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(ACCEPTED)
    await _later(app_env, 60)
    await chat.run("""
        donor-1  < Nobody has claimed the delivery of order #1 for 60 minutes. [Wait longer] [Cancel]
        donor-1  > [tap Wait longer]
        donor-1  < We keep looking for a worker for order #1 and will ask you again in 60 minutes.
    """)
    await _later(app_env, 60)
    await chat.run("""
        donor-1  < Nobody has claimed the delivery of order #1 for 120 minutes. [Wait longer] [Cancel]
        donor-1  > [tap Cancel]
        donor-1  < Order #1 is cancelled. ₹80 paid the restaurant for the meal it cooked; ₹40 is back in your balance.
        rest-2   < No delivery worker came for order #1, so the donor called it off. ₹80 for the meal you cooked is credited to you.
        worker-1 > [tap Claim]
        worker-1 < Job #1 is no longer available.
    """)
    store = app_env["runtime"].store
    async with store.reader() as uow:
        rest2 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-2")).id)
        assert await uow.ledger.balance(f"restaurant:{rest2.id}") == 8_000
        assert await uow.ledger.balance("escrow:order:1") == 0
    await assert_ledger_invariants(store)
