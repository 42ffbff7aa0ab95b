"""The worker could not find the person: proof of the place, everyone told, and the money exactly
as the design says (restaurant paid the meal, worker the fee, the tip back to the donor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.schedule.jobs import settle_due
from tests.channel_chat import channel_app, on_sms, users_on
from tests.helpers import assert_ledger_invariants
from tests.test_every_channel import fakes
from tests.test_meal_transcript import MEAL

UP_TO_PICKUP = MEAL.partition("    worker-1 > [tap Delivered]")[0]

NOT_FOUND = """
    worker-1 > [tap Person not found]
    worker-1 < Sorry it did not work out. Send a photo of the place where you looked for the person.
    worker-1 > [photo]
    worker-1 < Thank you for trying. Job #1 is recorded as not delivered: you will still receive ₹24 at 12:30 pm [Show jobs]
    donor-1  < The delivery worker could not find the person for order #1. The restaurant and the worker are paid [photo]
    rest-2   < Order #1: the worker could not find the person. You are still paid ₹80 at 12:30 pm.
"""

SETTLED = """
    rest-2   < Order #1: ₹80 is now credited to you.
    worker-1 < Job #1: ₹24 is now in your earnings.
"""


async def balances_after(env: dict[str, Any]) -> dict[str, int]:
    """The ledger's balances, with person-specific accounts named by the demo user."""
    async with env["runtime"].store.reader() as uow:
        balances = await uow.ledger.balances()
        donor = await uow.people.find("webchat", "donor-1")
        rest2 = await uow.restaurants.by_person((await uow.people.find("webchat", "rest-2")).id)
        worker1 = await uow.workers.by_person((await uow.people.find("webchat", "worker-1")).id)
    names = {f"donor:{donor.id}": "donor-1", f"restaurant:{rest2.id}": "rest-2", f"worker:{worker1.id}": "worker-1"}
    return {names.get(account, account): amount for account, amount in balances.items()}


async def test_a_worker_who_cannot_find_the_person_reports_it_and_the_money_follows(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(UP_TO_PICKUP + NOT_FOUND)
    # Resting: the escrow still holds the whole ₹120 during the dispute window.
    assert (await balances_after(app_env))["escrow:order:1"] == 12_000
    app_env["clock"].advance(minutes=30)
    assert await settle_due(app_env["runtime"].store) == 1
    await chat.run(SETTLED)
    # Veg biryani ₹80 + fee ₹30 + tip ₹10: restaurant 8 000, worker 2 400, pool 300, infra 300,
    # and the 1 000 tip back to the donor (100 000 - 12 000 + 1 000).
    assert await balances_after(app_env) == {
        "external:deposits": -100_000, "donor-1": 89_000, "escrow:order:1": 0, "rest-2": 8_000, "worker-1": 2_400,
        "pool:guarantee": 300, "fund:infra": 300,
    }  # fmt: skip
    async with app_env["runtime"].store.reader() as uow:
        order = await uow.orders.get(1)
        assert order is not None and order.delivery_failed and order.delivery_photo
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_person_not_found_before_pickup_or_by_another_worker_changes_nothing(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(UP_TO_PICKUP.partition("    worker-1 > [tap Picked up]")[0])
    await chat.post("worker-1", json={"button": "notfound:1"})  # claimed, not picked up yet
    await chat.post("worker-2", json={"button": "notfound:1"})  # not this worker's job
    await chat.drain()
    await chat.run("""
        worker-1 < Job #1 has already moved on; nothing to do.
        worker-2 < Job #1 is not yours.
    """)
    async with app_env["runtime"].store.reader() as uow:
        assert (await uow.orders.get(1)).status.value == "claimed"  # type: ignore[union-attr]


TAMIL_NOT_FOUND = """
    worker-1 > [press notfound:]
    worker-1 < சரியாக அமையவில்லை, மன்னிக்கவும். நபரைத் தேடிய இடத்தின் போட்டோவை அனுப்புங்கள்.
    worker-1 > [photo]
    worker-1 < முயற்சிக்கு நன்றி. வேலை #1 கொடுக்க முடியாதது எனப் பதிவானது: உங்களுக்கு ₹24 மதியம் 12:30-க்கு வரும்
    donor-1  < ஆர்டர் #1-க்கான நபரை டெலிவரி பணியாளரால் கண்டுபிடிக்க முடியவில்லை. [photo]
    rest-2   < ஆர்டர் #1: டெலிவரி பணியாளரால் அந்த நபரைக் கண்டுபிடிக்க முடியவில்லை. உங்களுக்கு ₹80 மதியம் 12:30-க்கு வரும்.
"""


async def test_the_failed_delivery_speaks_tamil_to_tamil_speakers(app_env: dict[str, Any]) -> None:
    chat, store = app_env["chat"], app_env["runtime"].store
    await chat.run(UP_TO_PICKUP)
    async with store.uow() as uow:
        for address in ("worker-1", "donor-1", "rest-2"):
            person = await uow.people.find("webchat", address)
            await uow.people.set_language(person.id, "ta")
    await chat.run(TAMIL_NOT_FOUND)
    app_env["clock"].advance(minutes=30)
    assert await settle_due(store) == 1
    await chat.run("""
        rest-2   < ஆர்டர் #1: ₹80 இப்போது உங்களுக்கு வரவு வைக்கப்பட்டது.
        worker-1 < வேலை #1: ₹24 இப்போது உங்கள் வருமானத்தில் சேர்ந்தது.
    """)
    await assert_ledger_invariants(store)


SMS_NOT_FOUND = {
    "en": """
        worker-1 > [tap Person not found]
        worker-1 < Sorry it did not work out. Send your location as numbers, for example 13.0827, 80.2707.
        worker-1 > [location 13.0829, 80.2709]
        worker-1 < Job #1 is recorded as not delivered: you will still receive
    """,
    "ta": """
        worker-1 > [tap Person not found]
        worker-1 < உங்கள் லொகேஷனை எண்களாக அனுப்புங்கள்
        worker-1 > [location 13.0829, 80.2709]
        worker-1 < வேலை #1 கொடுக்க முடியாதது
    """,
}
TOLD = """
    donor-1  < The delivery worker could not find the person for order #1.
    rest-2   < Order #1: the worker could not find the person.
"""


@pytest.mark.parametrize("language", ["en", "ta"])
async def test_an_sms_worker_proves_the_place_with_a_typed_location(language: str, app_db: Path, tmp_path: Path) -> None:
    users = users_on({"donor-1": "webchat", "*": "sms"})
    with fakes("sms") as (telegram, twilio):
        async with channel_app(app_db, tmp_path / "var", users, telegram=telegram, twilio=twilio) as env:
            chat = env["chat"]
            await chat.run(on_sms(UP_TO_PICKUP))
            if language == "ta":  # the worker switches to Tamil before reporting
                async with env["runtime"].store.uow() as uow:
                    person = await uow.people.find("sms", users["worker-1"].address)
                    await uow.people.set_language(person.id, "ta")
            await chat.run(SMS_NOT_FOUND[language] + TOLD)
            async with env["runtime"].store.reader() as uow:
                order = await uow.orders.get(1)
            assert order is not None and order.status.value == "delivery_failed" and order.delivery_photo is None
            assert (order.delivery_lat, order.delivery_lng) == (13.0829, 80.2709)
            await assert_ledger_invariants(env["runtime"].store)
