"""Disputes: a party freezes a delivered order's escrow, an admin resolves it, a party appeals.

Worked examples with the default parameters: curd rice ₹60 + fee ₹30 (80 % worker, 10 % pool,
10 % infra) + tip ₹15 = 10 500 paise in escrow; each ends with the exact balances and the
ledger's invariants."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.ledger.commitments import opens
from core.ledger.model import INFRA, POOL
from core.members.model import Person
from core.orders import disputes
from core.orders import service as orders
from core.orders.dispute_model import DisputeStatus, Reason, Resolution
from core.orders.lifecycle import Status
from core.schedule.jobs import settle_due
from tests.clock import FixedClock
from tests.helpers import assert_ledger_invariants, chain_events
from tests.test_failed_delivery import NOT_FOUND, UP_TO_PICKUP, balances_after
from tests.test_meal_transcript import MEAL
from tests.test_order_paths import DEPOSIT, NOON
from tests.test_settlement import picked_up

TIP = 1_500


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db, FixedClock(NOON))


def at(store: Store, minutes: float) -> Store:
    """The same database, `minutes` after noon."""
    return Store(store.db, FixedClock(NOON + timedelta(minutes=minutes)), store.bus)


async def delivered(store: Store, *, failed: bool = False) -> tuple[object, int, object, object]:
    """A picked-up order delivered (or not found) at noon; (coop, order id, kitchen, worker)."""
    coop, order_id, kitchen, worker = await picked_up(store, tip=TIP)
    async with store.uow() as uow:
        step = orders.fail_delivery if failed else orders.deliver
        await step(uow, order_id, worker, "photo", -40.0, 150.0, "w")  # type: ignore[arg-type]
    return coop, order_id, kitchen, worker


async def second_admin(store: Store, tag: str) -> Person:
    """Another admin, party to nothing."""
    async with store.uow() as uow:
        person = await uow.people.get_or_create("test", f"admin2-{tag}")
        await uow.people.set_flags(person.id, is_admin=True)
    return replace(person, is_admin=True)


async def disputed(store: Store, *, failed: bool = False) -> tuple[object, int, object, object, int]:
    """A delivered order the donor disputes 10 minutes later; (coop, order, kitchen, worker, dispute id)."""
    coop, order_id, kitchen, worker = await delivered(store, failed=failed)
    async with at(store, 10).uow() as uow:
        dispute = await disputes.raise_dispute(uow, order_id, coop.donor, Reason.BAD_FOOD, " cold and sour ")  # type: ignore[attr-defined]
    assert dispute.evidence == "cold and sour"
    return coop, order_id, kitchen, worker, dispute.id


async def balances(store: Store, coop: object, order_id: int, kitchen: object, worker: object) -> dict[str, int]:
    async with store.reader() as uow:
        return {
            "restaurant": await uow.ledger.balance(f"restaurant:{kitchen.id}"),  # type: ignore[attr-defined]
            "worker": await uow.ledger.balance(f"worker:{worker.id}"),  # type: ignore[attr-defined]
            "donor": await uow.ledger.balance(f"donor:{coop.donor.id}"),  # type: ignore[attr-defined]
            "escrow": await uow.ledger.balance(f"escrow:order:{order_id}"),
            "pool": await uow.ledger.balance(POOL),
            "infra": await uow.ledger.balance(INFRA),
        }


# resolution, failed delivery?, restaurant, worker, donor refunded, pool+infra gained, order status
CASES = [
    (Resolution.SETTLE, False, 6_000, 3_900, 0, 600, Status.SETTLED),
    (Resolution.SETTLE, True, 6_000, 2_400, 1_500, 600, Status.SETTLED),  # the tip back, as settle_failed_delivery
    (Resolution.REFUND, False, 0, 0, 10_500, 0, Status.REFUNDED),
    (Resolution.SPLIT_MEAL, False, 6_000, 0, 4_500, 0, Status.SETTLED),
    (Resolution.SPLIT_FEE, False, 0, 3_900, 6_000, 600, Status.SETTLED),
]


@pytest.mark.parametrize(("resolution", "failed", "restaurant", "worker", "refunded", "coop_gain", "status"), CASES)
async def test_each_resolution_moves_the_escrow_exactly(
    store: Store, resolution: Resolution, failed: bool, restaurant: int, worker: int, refunded: int, coop_gain: int,
    status: Status,
) -> None:
    coop, order_id, kitchen, worker_, dispute_id = await disputed(store, failed=failed)
    before = await balances(store, coop, order_id, kitchen, worker_)
    assert before["escrow"] == 10_500 and before["donor"] == DEPOSIT - 10_500
    async with at(store, 20).uow() as uow:
        dispute = await disputes.resolve(uow, dispute_id, coop.admin, resolution, "checked the photo")  # type: ignore[attr-defined]
        order = await uow.orders.get(order_id)
    assert dispute.status is DisputeStatus.RESOLVED and order is not None and order.status is status
    after = await balances(store, coop, order_id, kitchen, worker_)
    assert after["restaurant"] == restaurant and after["worker"] == worker and after["escrow"] == 0
    assert after["donor"] - before["donor"] == refunded
    assert after["pool"] + after["infra"] - before["pool"] - before["infra"] == coop_gain
    async with store.reader() as uow:
        resolved = await chain_events(uow, "dispute.resolved")
        salt = await uow.commitments.salt(f"dispute:{dispute_id}:note")
    assert [(e.actor, e.data["resolution"]) for e in resolved if e.data["order_id"] == order_id] == [
        (coop.admin.actor, resolution.value)  # type: ignore[attr-defined]
    ]
    # The admin's words stay off the permanent chain: it holds a salted commitment they open.
    (event,) = [e for e in resolved if e.data["order_id"] == order_id]
    assert "checked the photo" not in json.dumps(event.data) and salt is not None
    assert opens(event.data["reason_commit"], "checked the photo", salt)
    assert not opens(event.data["reason_commit"], "checked the photos", salt)
    await assert_ledger_invariants(store)


async def test_the_settle_job_leaves_a_disputed_order_alone(store: Store) -> None:
    coop, order_id, kitchen, worker, _ = await disputed(store)
    later = at(store, 120)
    await settle_due(later)
    async with later.uow() as uow:
        assert await orders.settle(uow, order_id) is None
        order = await uow.orders.get(order_id)
    assert order is not None and order.status is Status.DISPUTED
    assert (await balances(store, coop, order_id, kitchen, worker))["escrow"] == 10_500


async def test_every_party_may_dispute_but_nobody_else(store: Store) -> None:
    coop, order_id, kitchen, worker = await delivered(store)
    async with store.uow() as uow:
        stranger = await uow.people.get_or_create("test", f"stranger-{order_id}")
        listed = await disputes.parties(uow, (await uow.orders.get(order_id)))  # type: ignore[arg-type]
    assert listed == [coop.donor.id, kitchen.person_id, worker.person_id]  # type: ignore[attr-defined]
    for outsider in (stranger, coop.admin):  # type: ignore[attr-defined]
        with pytest.raises(disputes.DisputeError) as refused:
            async with at(store, 5).uow() as uow:
                await disputes.raise_dispute(uow, order_id, outsider, Reason.OTHER)
        assert refused.value.code == "not_a_party"
    async with at(store, 5).uow() as uow:
        worker_person = await uow.people.get(worker.person_id)  # type: ignore[attr-defined]
        assert worker_person is not None
        await disputes.raise_dispute(uow, order_id, worker_person, Reason.UNSAFE)
    with pytest.raises(disputes.DisputeError) as twice:
        async with at(store, 6).uow() as uow:
            await disputes.raise_dispute(uow, order_id, coop.donor, Reason.OTHER)  # type: ignore[attr-defined]
    assert twice.value.code == "already_disputed"


async def test_a_settled_order_or_a_closed_window_cannot_be_disputed(store: Store) -> None:
    coop, order_id, _, _ = await delivered(store)
    with pytest.raises(disputes.DisputeError) as closed:
        async with at(store, 30).uow() as uow:
            await disputes.raise_dispute(uow, order_id, coop.donor, Reason.OTHER)  # type: ignore[attr-defined]
    assert closed.value.code == "window_closed"
    async with at(store, 31).uow() as uow:
        assert await orders.settle(uow, order_id) is not None
    with pytest.raises(disputes.DisputeError) as settled:
        async with at(store, 32).uow() as uow:
            await disputes.raise_dispute(uow, order_id, coop.donor, Reason.OTHER)  # type: ignore[attr-defined]
    assert settled.value.code == "not_disputable_settled"


async def test_a_resolution_by_a_non_admin_or_pressed_twice_is_refused(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    with pytest.raises(disputes.DisputeError) as not_admin:
        async with at(store, 20).uow() as uow:
            await disputes.resolve(uow, dispute_id, coop.donor, Resolution.REFUND, "mine")  # type: ignore[attr-defined]
    assert not_admin.value.code == "not_admin"
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.SPLIT_MEAL, "half")  # type: ignore[attr-defined]
    once = await balances(store, coop, order_id, kitchen, worker)
    for resolution in (Resolution.SPLIT_MEAL, Resolution.REFUND):
        with pytest.raises(disputes.DisputeError) as again:
            async with at(store, 21).uow() as uow:
                await disputes.resolve(uow, dispute_id, coop.admin, resolution, "again")  # type: ignore[attr-defined]
        assert again.value.code == "already_resolved"
    assert await balances(store, coop, order_id, kitchen, worker) == once
    await assert_ledger_invariants(store)


async def test_an_appeal_decided_differently_is_applied_with_reversing_entries(store: Store) -> None:
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    before = await balances(store, coop, order_id, kitchen, worker)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.SETTLE, "looks fine")  # type: ignore[attr-defined]
    async with at(store, 60).uow() as uow:
        await disputes.appeal(uow, dispute_id, coop.donor)  # type: ignore[attr-defined]
    with pytest.raises(disputes.DisputeError) as twice:
        async with at(store, 61).uow() as uow:
            await disputes.appeal(uow, dispute_id, coop.donor)  # type: ignore[attr-defined]
    assert twice.value.code == "already_appealed"
    with pytest.raises(disputes.DisputeError) as same:
        async with at(store, 62).uow() as uow:
            await disputes.decide_appeal(uow, dispute_id, coop.admin, Resolution.REFUND, "on second thought")  # type: ignore[attr-defined]
    assert same.value.code == "same_admin"
    other = await second_admin(store, str(order_id))
    async with at(store, 90).uow() as uow:
        final = await disputes.decide_appeal(uow, dispute_id, other, Resolution.REFUND, "the photo is of a wall")
    assert final.status is DisputeStatus.FINAL and len(final.tx_ids) == 1
    async with store.reader() as uow:
        order = await uow.orders.get(order_id)
        moves = [e.data["transition"] for e in await chain_events(uow, "order.transitioned") if e.data["order_id"] == order_id]
    assert order is not None and order.status is Status.REFUNDED  # where the money went now
    assert moves[-3:] == ["dispute", "settle", "overturn_to_refunded"]
    after = await balances(store, coop, order_id, kitchen, worker)
    # The settlement reversed (a new `reverse` transaction), then everything refunded.
    assert (after["restaurant"], after["worker"], after["escrow"]) == (0, 0, 0)
    assert after["donor"] - before["donor"] == 10_500
    assert (after["pool"], after["infra"]) == (before["pool"], before["infra"])
    async with store.reader() as uow:
        assert await uow.ledger.existing("reverse", f"order:{order_id}:dispute:reverse:1") is not None
        assert await uow.ledger.existing("settle", f"order:{order_id}:dispute:1") is not None  # never edited
    await assert_ledger_invariants(store)


async def test_an_appeal_against_a_refund_takes_it_back_and_counts_it_held_again(store: Store) -> None:
    # Refunded in full, then on the restaurant's appeal a second admin pays the meal only: the
    # refund is reversed (the donor's balance still holds it), then 4 500 goes back again.
    coop, order_id, kitchen, worker, dispute_id = await disputed(store)
    before = await balances(store, coop, order_id, kitchen, worker)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.REFUND, "no photo")  # type: ignore[attr-defined]
        owner = await uow.people.get(kitchen.person_id)  # type: ignore[attr-defined]
    assert owner is not None
    async with at(store, 30).uow() as uow:
        await disputes.appeal(uow, dispute_id, owner)
    other = await second_admin(store, str(order_id))
    async with at(store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
        (contribution,) = await uow.contributions.for_order(order_id)
    after = await balances(store, coop, order_id, kitchen, worker)
    assert (after["restaurant"], after["worker"], after["escrow"]) == (6_000, 0, 0)
    assert after["donor"] - before["donor"] == 4_500
    assert contribution.refunded == 4_500  # the reversed refund no longer counts
    async with store.reader() as uow:
        order = await uow.orders.get(order_id)
    assert order is not None and order.status is Status.SETTLED  # the meal was paid: no longer "refunded"
    async with store.reader() as uow:
        raised = [e for e in await chain_events(uow, "dispute.raised") if e.data["order_id"] == order_id]
    assert raised[0].data["has_evidence"] and "evidence" not in raised[0].data  # the words stay off the chain
    await assert_ledger_invariants(store)


async def test_an_appeal_after_the_window_is_refused(store: Store) -> None:
    coop, _, _, _, dispute_id = await disputed(store)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, Resolution.REFUND, "refund")  # type: ignore[attr-defined]
    with pytest.raises(disputes.DisputeError) as late:
        async with at(store, 20 + 24 * 60).uow() as uow:
            await disputes.appeal(uow, dispute_id, coop.donor)  # type: ignore[attr-defined]
    assert late.value.code == "appeal_window_closed"


# --- by chat -------------------------------------------------------------------------------------

UP_TO_DELIVERED = MEAL  # the meal transcript ends with the delivery, before the window passes

REPORTED = """
    donor-1  > [tap Report a problem]
    donor-1  < What went wrong with order #1? [Not delivered] [Wrong person] [Bad food] [Unsafe] [Other]
    donor-1  > [tap Bad food]
    donor-1  < Add a few words about what happened (or send skip).
    donor-1  > The rice was spoiled
    donor-1  < Problem reported for order #1. Payment is on hold until an admin decides.
    rest-2   < A problem was reported with order #1: Bad food. Payment is on hold until an admin decides.
    worker-1 < A problem was reported with order #1: Bad food. Payment is on hold until an admin decides.
    admin    < Their words: The rice was spoiled [Settle] [Refund all] [Meal only] [Fee only] [photo]
    admin    > [tap Meal only]
    admin    < In one line, why Meal only?
    admin    > Cooked and carried, but not eatable
    admin    < Decided: Meal only. Everyone is told.
    donor-1  < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹40 goes back [Appeal]
    rest-2   < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹40 goes back [Appeal]
    worker-1 < Order #1, an admin's decision (Meal only): the restaurant gets ₹80, the delivery worker ₹0, and ₹40 goes back [Appeal]
"""


async def test_the_donor_reports_a_problem_and_an_admin_splits_it_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(UP_TO_DELIVERED)
    app_env["clock"].advance(minutes=10)
    await chat.run(REPORTED)
    app_env["clock"].advance(minutes=60)
    assert await settle_due(app_env["runtime"].store) == 0  # resolved already: nothing left to settle
    # Veg biryani ₹80 + fee ₹30 + tip ₹10 in escrow: the restaurant gets 8 000, the donor 4 000 back.
    balances = await balances_after(app_env)
    assert (balances["rest-2"], balances["donor-1"], balances["escrow:order:1"]) == (8_000, 92_000, 0)
    assert "worker-1" not in balances
    await assert_ledger_invariants(app_env["runtime"].store)


async def test_strangers_non_admins_and_a_lone_admins_appeal_by_chat(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(UP_TO_DELIVERED)
    await chat.post("worker-2", json={"button": "dispute:1"})  # not this worker's order
    await chat.drain()
    await chat.run("worker-2 < Only the people of an order can report a problem with it.")
    await chat.run(REPORTED.partition("    admin    > [tap Meal only]")[0])
    await chat.post("donor-1", json={"button": "resolve:1:refund"})  # a party is no admin
    await chat.drain()
    await chat.run("donor-1  < Only an admin can resolve a dispute.")
    await chat.run(REPORTED.partition("    admin    < Their words")[2].partition("\n")[2])
    # The demo has one admin, and the appeal must go to another: the members vote instead
    # (tests/test_appeal_vote_transcripts.py follows such a vote to its end).
    await chat.run("""
        rest-2   > [tap Appeal]
        rest-2   < There is no second admin, so the members will vote on your appeal. [Settle] [Refund all] [Fee only]
        rest-2   > [tap Settle]
        rest-2   < Appeal recorded. The members vote on it as proposal #1: Change the decision on order #1 from Meal only to Settle?
        donor-1  < Order #1: a party appealed the decision.
        worker-1 < Order #1: a party appealed the decision.
        rest-1   < Vote on proposal #1 [Yes] [No] [Abstain]
        rest-2   < Vote on proposal #1 [Yes] [No] [Abstain]
        worker-1 < Vote on proposal #1 [Yes] [No] [Abstain]
        worker-2 < Vote on proposal #1 [Yes] [No] [Abstain]
        worker-3 < Vote on proposal #1 [Yes] [No] [Abstain]
        rest-2   > [press appeal:1]
        rest-2   < That question has already been answered.
    """)
    async with app_env["runtime"].store.reader() as uow:
        dispute = await uow.disputes.get(1)
    assert dispute is not None and dispute.status is DisputeStatus.APPEALED and len(dispute.appeals) == 1
    assert dispute.vote_id == 1


async def test_the_worker_reports_a_problem_from_the_not_found_reply(app_env: dict[str, Any]) -> None:
    chat = app_env["chat"]
    await chat.run(UP_TO_PICKUP + NOT_FOUND)
    await chat.run("""
        worker-1 > [tap Report a problem]
        worker-1 < What went wrong with order #1? [Not delivered] [Wrong person] [Bad food] [Unsafe] [Other]
        worker-1 > [tap Unsafe]
        worker-1 < Add a few words about what happened (or send skip).
        worker-1 > skip
        worker-1 < Problem reported for order #1. Payment is on hold until an admin decides.
        donor-1  < A problem was reported with order #1: Unsafe.
        rest-2   < A problem was reported with order #1: Unsafe.
        admin    < Dispute #1 on order #1: Unsafe. Meal ₹80, delivery ₹30, tip ₹10. Their words: - [Settle] [photo]
    """)
    async with app_env["runtime"].store.reader() as uow:
        order = await uow.orders.get(1)
    assert order is not None and order.status is Status.DISPUTED and order.delivery_failed


# Every resolution of a failed delivery (curd rice ₹60 + fee ₹30 + tip ₹15) with its exact
# postings: the tip always goes back to the donor, never to the worker. (account → paise per
# ref suffix: "1" is the decision's payment, "refund" the rest back, "tip" the tip back.)
FAILED = {
    Resolution.SETTLE: {"1": {"restaurant": 6_000, "worker": 2_400, "pool": 300, "infra": 300, "escrow": -9_000},
                        "tip": {"donor": 1_500, "escrow": -1_500}},
    Resolution.REFUND: {"refund": {"donor": 10_500, "escrow": -10_500}},
    Resolution.SPLIT_MEAL: {"1": {"restaurant": 6_000, "escrow": -6_000}, "refund": {"donor": 4_500, "escrow": -4_500}},
    Resolution.SPLIT_FEE: {"1": {"worker": 2_400, "pool": 300, "infra": 300, "escrow": -3_000},
                           "tip": {"donor": 1_500, "escrow": -1_500}, "refund": {"donor": 6_000, "escrow": -6_000}},
}  # fmt: skip


@pytest.mark.parametrize("resolution", list(FAILED), ids=str)
async def test_every_resolution_of_a_failed_delivery_returns_the_tip_to_its_giver(store: Store, resolution: Resolution) -> None:
    coop, order_id, kitchen, worker, dispute_id = await disputed(store, failed=True)
    async with at(store, 20).uow() as uow:
        await disputes.resolve(uow, dispute_id, coop.admin, resolution, "checked the place photo")  # type: ignore[attr-defined]
    names = {f"restaurant:{kitchen.id}": "restaurant", f"worker:{worker.id}": "worker",  # type: ignore[attr-defined]
             f"donor:{coop.donor.id}": "donor", f"escrow:order:{order_id}": "escrow", POOL: "pool", INFRA: "infra"}  # type: ignore[attr-defined]  # fmt: skip
    refs = {"1": ("settle", f"order:{order_id}:dispute:1"), "refund": ("refund", f"order:{order_id}:refund:dispute:1"),
            "tip": ("refund", f"order:{order_id}:refund:dispute:1:tip")}  # fmt: skip
    recorded: dict[str, dict[str, int]] = {}
    async with store.reader() as uow:
        for key, (kind, ref) in refs.items():
            tx_id = await uow.ledger.existing(kind, ref)
            if tx_id is not None:
                recorded[key] = {names[a]: v for a, v in await uow.ledger.postings_of(tx_id)}
    assert recorded == FAILED[resolution]
    assert (await balances(store, coop, order_id, kitchen, worker))["worker"] in (0, 2_400)  # the fee share at most
    await assert_ledger_invariants(store)
