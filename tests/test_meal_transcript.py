"""The whole meal by chat, from a seeker's photo to settled payouts, on the web-chat channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.schedule.jobs import settle_due
from tests.conftest import running_app
from tests.helpers import assert_ledger_invariants

MEAL = """
    donor-1  > [photo]
    donor-1  < Did the person agree to be photographed so they can receive a meal? [Yes, they agreed] [No]
    donor-1  > [press consent:yes]
    donor-1  < Thank you. Now share the location where the person is
    donor-1  > [location 13.0827, 80.2707]
    donor-1  < What is the place like right now? [Busy and well lit] [Busy but dark] [Quiet but lit] [Quiet and dark] [Not sure]
    donor-1  > [press scene:busy_lit]
    donor-1  < Meals near this person [Lemon rice] [Curd rice] [Sambar rice] [Idli and sambar] [Veg biryani] [Cancel]
    donor-1  > [tap Veg biryani]
    donor-1  < Would you like to add a tip for the delivery worker? [No tip] [Tip ₹10] [Tip ₹20]
    donor-1  > [tap Tip ₹10]
    donor-1  < Meal ₹80 + delivery ₹30 + tip ₹10 = ₹120 [Pay ₹120] [Cancel]
    donor-1  > [tap Pay]
    donor-1  < Paid ₹120. Order #1 for Veg biryani is with Saravana Kitchen. I will tell you when it is accepted. [Cancel order]
    rest-2   < New order #1: Veg biryani (₹80) for a person near 13.08, 80.27. Can you cook it? [Accept] [Reject]
    rest-2   > [tap Accept]
    rest-2   < Accepted order #1: Veg biryani. A delivery worker will come for it. [Ready]
    donor-1  < Saravana Kitchen accepted order #1 and is cooking. Now finding a delivery worker.
    worker-1 < New job #1: pick up at Saravana Kitchen (4 Poonamallee High Road, Periamet), drop near 13.08, 80.27. Pay ₹34. [Claim]
    worker-2 < New job #1: pick up at Saravana Kitchen [Claim]
    worker-3 < New job #1: pick up at Saravana Kitchen [Claim]
    worker-1 > [tap Claim]
    worker-1 < Job #1 is yours. Pick up Veg biryani at Saravana Kitchen, 4 Poonamallee High Road, Periamet. [Picked up] [photo]
    donor-1  < Murugan will deliver order #1.
    rest-2   < Murugan will deliver order #1.
    worker-2 > [tap Claim]
    worker-2 < Job #1 was taken by Murugan, who was faster this time.
    rest-2   > [tap Ready]
    rest-2   < Order #1 is marked ready. Thank you!
    worker-1 < Order #1 is packed and ready for pickup.
    worker-1 > [tap Picked up]
    donor-1  < Order #1 was picked up and is on its way.
    worker-1 < Picked up order #1. When the person has the meal, tap Delivered. [Delivered]
    worker-1 > [tap Delivered]
    worker-1 < Send a photo of the delivered meal.
    worker-1 > [photo]
    worker-1 < Thank you. Now share your location
    worker-1 > [location 13.0829, 80.2709]
    worker-1 < Delivered order #1. Thank you! You will receive ₹34 (₹24 delivery + ₹10 tip) at 12:30 pm. [It went well] [Safety problem]
    donor-1  < Order #1 was delivered. Thank you for feeding someone today! [photo]
    rest-2   < Order #1 was delivered. ₹80 will be credited to you at 12:30 pm.
"""

# Thirty minutes later (the governed dispute window) the scheduler settles it.
SETTLED = """
    rest-2   < Order #1: ₹80 is now credited to you.
    worker-1 < Job #1: ₹34 is now in your earnings.
"""


async def settle_after_the_window(env: dict[str, Any]) -> None:
    """Let the dispute window pass and run the scheduler's settlement job, as it does every minute."""
    async with env["runtime"].store.reader() as uow:
        assert (await uow.ledger.balances())["escrow:order:1"] == 12_000  # resting, not yet paid out
    env["clock"].advance(minutes=30)
    assert await settle_due(env["runtime"].store) == 1
    assert await settle_due(env["runtime"].store) == 0  # twice settles nothing more


async def test_a_meal_goes_from_photo_to_settled_payouts_by_chat(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(MEAL)
    await settle_after_the_window(app_env)
    await app_env["chat"].run(SETTLED)
    store = app_env["runtime"].store
    async with store.reader() as uow:
        balances = await uow.ledger.balances()
        rest2 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-2")).id)
        worker1 = await uow.workers.by_person((await uow.people.find("webchat", "worker-1")).id)
        donor = await uow.people.find("webchat", "donor-1")
    assert balances == {
        "external:deposits": -100_000,
        f"donor:{donor.id}": 88_000,
        "escrow:order:1": 0,
        f"restaurant:{rest2.id}": 8_000,
        f"worker:{worker1.id}": 3_400,
        "pool:guarantee": 300,
        "fund:infra": 300,
    }
    await assert_ledger_invariants(store)


async def test_the_same_meal_runs_on_postgresql_and_redis(pg_fresh_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    async with running_app(pg_fresh_url, tmp_path / "var", redis_url=redis_url, redis_prefix=redis_prefix) as env:
        assert type(env["runtime"].board).__name__ == "RedisJobBoard"
        await env["chat"].run(MEAL)
        await settle_after_the_window(env)
        await env["chat"].run(SETTLED)
        async with env["runtime"].store.reader() as uow:
            balances = await uow.ledger.balances()
        assert balances["pool:guarantee"] == 300 and balances["fund:infra"] == 300
        assert sum(balances.values()) == 0
        await assert_ledger_invariants(env["runtime"].store)
