"""Every change a conversation makes goes through core and into the hash chain as an event."""

from __future__ import annotations

from typing import Any

from core.shared import geo
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_meal_transcript import MEAL


async def chained(env: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    """The data of every chained event of one type, oldest first."""
    async with env["runtime"].store.reader() as uow:
        return [e.data for e in await chain_events(uow, event_type)]


async def worker_id_of(env: dict[str, Any], address: str) -> int:
    """The worker record of a demo user."""
    async with env["runtime"].store.reader() as uow:
        person = await uow.people.find("webchat", address)
        worker = await uow.workers.by_person(person.id)
    return int(worker.id)


async def test_a_worker_going_offline_online_and_moving_zone_is_chained(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        worker-1 > /offline
        worker-1 < You are offline.
        worker-1 > /online
        worker-1 < You are online.
        worker-1 > [location 13.1000, 80.3000]
        worker-1 < Your zone is updated.
    """)
    wid = await worker_id_of(app_env, "worker-1")
    assert await chained(app_env, "worker.availability_changed") == [
        {"worker_id": wid, "online": False}, {"worker_id": wid, "online": True},
    ]  # fmt: skip
    (moved,) = await chained(app_env, "worker.zone_changed")
    assert moved["worker_id"] == wid and moved["after"] == geo.encode(13.1, 80.3) != moved["before"]
    async with app_env["runtime"].store.reader() as uow:
        assert (await uow.workers.get(wid)).zone == moved["after"]


async def test_a_meal_chains_its_photos_capacity_and_the_workers_report(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(MEAL + """
        worker-1 > [tap Safety problem]
        worker-1 < Thank you for telling us.
        worker-1 > [press report:1:ok]
        worker-1 < That question has already been answered.
    """)
    wid = await worker_id_of(app_env, "worker-1")
    capacity = await chained(app_env, "capacity.changed")
    assert [(c["change"], c["order_id"], c["used"]) for c in capacity] == [("reserve", 1, 1), ("complete", 1, 1)]
    assert capacity[0]["pledged"] == 20
    assert [p["kind"] for p in await chained(app_env, "photo.stored")] == ["seeker", "delivery"]
    assert await chained(app_env, "delivery.reported") == [
        {"order_id": 1, "worker_id": wid, "went_well": False, "safety_issue": True}
    ]
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_a_rejected_order_chains_the_released_capacity(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run(MEAL.split("    rest-2   > [tap Accept]")[0] + """
        rest-2  > [tap Reject]
        rest-2  < Rejected order #1. It has been passed on.
        rest-1  < New order #1: Sambar rice (₹70) for a person near 13.08, 80.27. [Accept] [Reject]
        donor-1 < could not cook order #1, so Annapoorna Mess will make Sambar rice. ₹10 of the difference is back in your balance.
    """)
    changes = [(c["change"], c["used"]) for c in await chained(app_env, "capacity.changed")]
    assert changes == [("reserve", 1), ("release", 0), ("reserve", 1)]


async def test_choosing_a_language_and_giving_a_name_are_chained_without_the_name(app_env: dict[str, Any]) -> None:
    await app_env["chat"].run("""
        cook-7 > /start
        cook-7 < Choose your language [தமிழ்] [English]
        cook-7 > [tap English]
        cook-7 < Welcome to Ketpaar. [Feed someone] [I run a restaurant] [I deliver meals]
        cook-7 > [press role:worker]
        cook-7 < What is your name?
        cook-7 > Kannan Raj
        cook-7 < Share your location
        cook-7 > [location 13.0827, 80.2707]
        cook-7 < You are registered and waiting for an admin's approval.
        admin  < Kannan Raj · 13.08, 80.27 · webchat:cook-7 [Approve] [Reject]
    """)
    async with app_env["runtime"].store.reader() as uow:
        person = await uow.people.find("webchat", "cook-7")
    assert person.name == "Kannan Raj" and person.language == "en"
    assert await chained(app_env, "person.language_chosen") == [{"person_id": person.id, "language": "en"}]
    assert await chained(app_env, "person.named") == [{"person_id": person.id}]
