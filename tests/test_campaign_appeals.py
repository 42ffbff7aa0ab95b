"""An appeal on a campaign-funded order: the first decision's refund went on to the givers, so the
reversal takes back what each giver still holds, the guarantee pool covers the rest, and whatever
the new decision returns to the campaign goes on to the givers again (repaying the pool first).

Curd rice ₹60 + ₹30 delivery + ₹10 tip = ₹100 from two givers, ₹70 and ₹30."""

from __future__ import annotations

import uuid

from core.adapters.sql.db import Database
from core.campaigns.lifecycle import CampaignStatus
from core.campaigns.model import campaign_account
from core.ledger.model import DEPOSITS, POOL, donor_account, escrow_account, transfer
from core.orders import disputes
from core.orders import service as orders
from core.orders.dispute_model import DisputeStatus, Reason, Resolution
from core.orders.lifecycle import Status
from tests.helpers import assert_ledger_invariants
from tests.test_campaigns import World, balance, give, giver, open_campaign, world
from tests.test_dispute_appeals import postings
from tests.test_disputes import at, second_admin


async def delivered_campaign_order(w: World) -> tuple[int, int, object, object]:
    """Two givers fund a campaign; the order is delivered at noon: (campaign, order, giver a, giver b)."""
    c = await open_campaign(w, tip=1_000)
    a, b = await giver(w, "a", 100), await giver(w, "b", 100)
    await give(w, c.id, a, 70)
    await give(w, c.id, b, 30)
    kitchen, worker = w.coop.restaurants[0], w.coop.workers[0]
    async with w.store.uow() as uow:
        await orders.accept(uow, c.order_id, kitchen, w.board, "test")
    async with w.store.uow() as uow:
        assert (await orders.claim(uow, c.order_id, worker, w.board, "test")).won
    async with w.store.uow() as uow:
        await orders.pickup(uow, c.order_id, worker, w.board, "test")
    async with w.store.uow() as uow:
        await orders.deliver(uow, c.order_id, worker, "photo", 13.0827, 80.2707, "test")
    return c.id, c.order_id, a, b


async def refunded_and_appealed(w: World) -> tuple[int, int, object, object, int]:
    """Giver a disputes; the admin refunds everything (the campaign passes it on); the restaurant appeals."""
    campaign_id, order_id, a, b = await delivered_campaign_order(w)
    async with at(w.store, 10).uow() as uow:
        dispute = await disputes.raise_dispute(uow, order_id, a, Reason.NOT_DELIVERED, "")  # type: ignore[arg-type]
    async with at(w.store, 20).uow() as uow:
        await disputes.resolve(uow, dispute.id, w.coop.admin, Resolution.REFUND, "no photo of the person")
        owner = await uow.people.get(w.coop.restaurants[0].person_id)
    assert owner is not None
    assert [await balance(w, donor_account(p.id)) for p in (a, b)] == [10_000, 10_000]  # type: ignore[attr-defined]
    async with at(w.store, 30).uow() as uow:
        await disputes.appeal(uow, dispute.id, owner)
    return campaign_id, order_id, a, b, dispute.id


async def test_an_appeal_takes_a_campaign_refund_back_from_the_givers_and_pays_the_meal(db: Database) -> None:
    w = await world(db)
    campaign_id, order_id, a, b, dispute_id = await refunded_and_appealed(w)
    other = await second_admin(w.store, uuid.uuid4().hex[:8])
    async with at(w.store, 40).uow() as uow:
        final = await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
        order = await uow.orders.get(order_id)
    assert final.status is DisputeStatus.FINAL and order is not None and order.status is Status.SETTLED
    kitchen = w.coop.restaurants[0]
    assert await balance(w, f"restaurant:{kitchen.id}") == 6_000
    # ₹40 comes back to the givers in proportion, ₹28 and ₹12: each is ₹100 - gift + share.
    assert [await balance(w, donor_account(p.id)) for p in (a, b)] == [3_000 + 2_800, 7_000 + 1_200]  # type: ignore[attr-defined]
    assert await balance(w, campaign_account(campaign_id)) == 0 and await balance(w, escrow_account(order_id)) == 0
    await assert_ledger_invariants(w.store)


async def test_a_giver_who_spent_the_refund_is_covered_by_the_pool_and_repays_it_first(db: Database) -> None:
    w = await world(db)
    campaign_id, order_id, a, b, dispute_id = await refunded_and_appealed(w)
    async with at(w.store, 35).uow() as uow:  # giver a spends all but ₹20 of their balance elsewhere
        await uow.ledger.record(transfer("spend", f"spent-{uuid.uuid4().hex}", donor_account(a.id), "external:payouts",
                                         8_000), "test")  # type: ignore[attr-defined]  # fmt: skip
        await uow.ledger.record(transfer("pool", f"pool-{uuid.uuid4().hex}", DEPOSITS, POOL, 5_000), "test")
        pool_before = await uow.ledger.balance(POOL)
    other = await second_admin(w.store, uuid.uuid4().hex[:8])
    async with at(w.store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute_id, other, Resolution.SPLIT_MEAL, "it was cooked")
    # The exact entries: a gives back the ₹20 left and b the ₹30 passed on; the pool covers a's
    # ₹50; the meal goes to the kitchen; ₹40 goes back through the campaign, ₹28 / ₹12; a's ₹28
    # repays the pool first.
    a_, b_, ref = donor_account(a.id), donor_account(b.id), f"order:{order_id}:dispute"  # type: ignore[attr-defined]
    escrow, camp, kitchen = escrow_account(order_id), campaign_account(campaign_id), f"restaurant:{w.coop.restaurants[0].id}"
    assert await postings(w.store, "reverse", f"{ref}:reverse:1") == sorted([(a_, -2_000), (b_, -3_000), (escrow, 5_000)])
    assert await postings(w.store, "cover", f"{ref}:cover") == sorted([(POOL, -5_000), (escrow, 5_000)])
    assert await postings(w.store, "settle", f"{ref}:2") == sorted([(kitchen, 6_000), (escrow, -6_000)])
    assert await postings(w.store, "refund", f"order:{order_id}:refund:dispute:2") == sorted([(camp, 4_000), (escrow, -4_000)])
    assert await postings(w.store, "refund", f"campaign:{campaign_id}:refund:appeal") == sorted([(a_, 2_800), (b_, 1_200), (camp, -4_000)])
    assert await postings(w.store, "repay", f"{ref}:repay") == sorted([(a_, -2_800), (POOL, 2_800)])
    assert [await balance(w, x) for x in (a_, b_, camp, escrow)] == [0, 8_200, 0, 0]
    assert await balance(w, POOL) - pool_before == -2_200
    async with w.store.reader() as uow:
        gifts = await uow.campaigns.gifts(campaign_id)
        order = await uow.orders.get(order_id)
        campaign = await uow.campaigns.get(campaign_id)
    assert [g.refunded for g in gifts] == [2_800, 1_200] and order is not None and order.status is Status.SETTLED
    assert campaign is not None and campaign.status is CampaignStatus.COMPLETED  # no longer "refunded"
    await assert_ledger_invariants(w.store)


async def test_a_settlement_overturned_on_appeal_refunds_the_givers_and_the_order_says_refunded(db: Database) -> None:
    w = await world(db)
    campaign_id, order_id, a, b = await delivered_campaign_order(w)
    async with at(w.store, 10).uow() as uow:
        dispute = await disputes.raise_dispute(uow, order_id, a, Reason.NOT_DELIVERED, "")  # type: ignore[arg-type]
    async with at(w.store, 20).uow() as uow:
        await disputes.resolve(uow, dispute.id, w.coop.admin, Resolution.SETTLE, "photo looks right")
    async with at(w.store, 30).uow() as uow:
        await disputes.appeal(uow, dispute.id, a)  # type: ignore[arg-type]
    other = await second_admin(w.store, uuid.uuid4().hex[:8])
    async with at(w.store, 40).uow() as uow:
        await disputes.decide_appeal(uow, dispute.id, other, Resolution.REFUND, "the photo is of a wall")
        order = await uow.orders.get(order_id)
    assert order is not None and order.status is Status.REFUNDED
    kitchen, worker = w.coop.restaurants[0], w.coop.workers[0]
    assert [await balance(w, f"restaurant:{kitchen.id}"), await balance(w, f"worker:{worker.id}")] == [0, 0]
    assert [await balance(w, donor_account(p.id)) for p in (a, b)] == [10_000, 10_000]  # type: ignore[attr-defined]
    assert await balance(w, campaign_account(campaign_id)) == 0
    async with w.store.reader() as uow:
        campaign = await uow.campaigns.get(campaign_id)
    assert campaign is not None and campaign.status is CampaignStatus.REFUNDED  # no longer "completed"
    await assert_ledger_invariants(w.store)
