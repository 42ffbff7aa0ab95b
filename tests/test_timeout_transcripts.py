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
