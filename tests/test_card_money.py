"""Card money as a property: any mix of card-paid orders (delivered, failed, cancelled, declined,
disputed; tips; who bears the fee) ends with the ledger reconciled with Stripe to the paisa, and
what came in equal to the balances plus what went out."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.adapters.sql.board import SqlJobBoard
from core.adapters.sql.db import Database
from core.adapters.sql.uow import Store
from core.adapters.stripe.gateway import StripeGateway
from core.ledger.model import BP, DEPOSITS, POOL, transfer
from core.orders import disputes
from core.orders import service as orders
from core.orders.dispute_model import Reason, Resolution
from core.payments import cards
from core.payments.card_model import CardStatus, gross_up, hold_account, processor_fee
from core.payments.cards import CardEvent
from core.seekers.screening import PassThroughScreener
from tests.clock import FixedClock
from tests.fake_stripe import SECRET_KEY, FakeStripe
from tests.helpers import CHENNAI, assert_ledger_invariants, seed_coop

# lost_early / lost_late: Stripe cancels the hold after authorisation, at the restaurant or after
# delivery (before the capture): the guarantee pool stands in (core/payments/card_lost.py).
OUTCOMES = ("deliver", "fail", "cancel", "reject_all", "dispute_refund", "dispute_meal", "decline", "lost_early", "lost_late")


@given(total=st.integers(1, 10**9), bp=st.integers(0, 4_999), fixed=st.integers(0, 10_000))
def test_the_grossed_up_fee_is_the_smallest_that_leaves_the_whole_total(total: int, bp: int, fixed: int) -> None:
    fee = gross_up(total, bp, fixed)
    assert total + fee - processor_fee(total + fee, bp, fixed) >= total
    assert fee == 0 or total + fee - 1 - processor_fee(total + fee - 1, bp, fixed) < total
    assert processor_fee(total, bp, fixed) == (total * bp + BP // 2) // BP + fixed


async def _play(db_path: Path, fake: FakeStripe, plans: list[tuple[str, int, int]]) -> None:
    db = Database(f"sqlite:///{db_path}")
    clock = FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))
    store, board = Store(db, clock), SqlJobBoard(db)
    gateway = StripeGateway(SECRET_KEY, api_base=fake.base_url, timeout=5.0)
    try:
        coop = await seed_coop(store, uuid.uuid4().hex[:6])
        async with store.uow() as uow:  # the guarantee pool, as settlements' shares would have filled it
            await uow.ledger.record(transfer("deposit", "seed-pool", DEPOSITS, POOL, 10**7), "test")

        async def stripe_drops(payment_intent: str, ref: str) -> None:
            fake.drop_hold(payment_intent)
            async with store.uow() as uow:
                assert await cards.apply_event(uow, CardEvent(f"evt_{uuid.uuid4().hex}", "canceled", payment_intent, ref, 0)) in (
                    "covered", "released")

        for outcome, tip, bearer in plans:
            async with store.uow() as uow:
                await uow.params.change("card_fee_bearer", bearer, "setup")
                order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
                item = (await orders.meal_options(uow, *CHENNAI))[0]
                payment = await cards.start(uow, gateway, order.id, coop.donor, item.item_id, tip)
            if outcome == "decline":
                fake.decline(payment.intent)
                async with store.uow() as uow:
                    await cards.apply_event(uow, CardEvent(f"evt_{uuid.uuid4().hex}", "failed", payment.intent, payment.ref, 0))
                    await orders.cancel(uow, order.id, coop.donor, board)
                continue
            pi = fake.pay(payment.intent)
            async with store.uow() as uow:
                assert await cards.apply_event(uow, CardEvent(f"evt_{uuid.uuid4().hex}", "authorised", pi["id"], payment.ref,
                                                              pi["amount_capturable"])) == "authorised"  # fmt: skip
                order = await orders.load(uow, order.id)
            if outcome == "lost_early":
                await stripe_drops(payment.intent, payment.ref)
            rest = next(r for r in coop.restaurants if r.id == order.restaurant_id)
            worker = coop.workers[0]
            async with store.uow() as uow:
                if outcome == "cancel":
                    await orders.cancel(uow, order.id, coop.donor, board)
                    continue
                if outcome == "reject_all":
                    order = await orders.reject(uow, order.id, rest, "test")
                    if order.status.value == "at_restaurant":  # passed on to the other restaurant
                        other = next(r for r in coop.restaurants if r.id == order.restaurant_id)
                        await orders.reject(uow, order.id, other, "test")
                    continue
                await orders.accept(uow, order.id, rest, board, "test")
            async with store.uow() as uow:
                await orders.claim(uow, order.id, worker, board, "test")
            async with store.uow() as uow:
                await orders.pickup(uow, order.id, worker, board, "test")
            async with store.uow() as uow:
                if outcome == "fail":
                    await orders.fail_delivery(uow, order.id, worker, None, *CHENNAI, "test")
                else:
                    await orders.deliver(uow, order.id, worker, None, *CHENNAI, "test")
            if outcome == "lost_late":
                await stripe_drops(payment.intent, payment.ref)
            if outcome.startswith("dispute"):
                async with store.uow() as uow:
                    dispute = await disputes.raise_dispute(uow, order.id, coop.donor, Reason.NOT_DELIVERED)
                resolution = Resolution.REFUND if outcome == "dispute_refund" else Resolution.SPLIT_MEAL
                async with store.uow() as uow:
                    await disputes.resolve(uow, dispute.id, coop.admin, resolution, "checked")
            else:
                clock.advance(minutes=31)
                async with store.uow() as uow:
                    assert await orders.settle(uow, order.id) is not None
        assert "retry" not in await cards.run_due(store, gateway)
        assert await cards.run_due(store, gateway) == {}  # nothing is ever done twice
        assert await cards.reconcile(store, gateway) == []
        async with store.reader() as uow:
            balances = await uow.ledger.balances()
            payments = await uow.cards.in_status(tuple(CardStatus))
            for p in payments:
                assert await uow.ledger.balance(hold_account(p.id)) == 0  # every hold is settled with Stripe
                assert p.status in (CardStatus.CAPTURED, CardStatus.RELEASED, CardStatus.FAILED)
        card = -balances.get("external:card", 0)
        assert card == fake.held_or_taken() == sum(p.captured - p.refunded for p in payments)
        assert balances.get("external:card_fees", 0) == fake.fees()
        came_in = -sum(v for a, v in balances.items() if a.startswith("external:") and v < 0)
        went_out = sum(v for a, v in balances.items() if a.startswith("external:") and v > 0)
        assert came_in == sum(v for a, v in balances.items() if not a.startswith("external:")) + went_out
        assert all(v >= 0 for a, v in balances.items() if not a.startswith("external:"))
        await assert_ledger_invariants(store)
    finally:
        await gateway.close()
        await board.close()
        await db.dispose()


plan = st.tuples(st.sampled_from(OUTCOMES), st.sampled_from([0, 1_000, 2_000]), st.sampled_from([0, 1]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(plan, min_size=1, max_size=5))
def test_any_mix_of_card_orders_reconciles_with_stripe_to_the_paisa(
    plans: list[tuple[str, int, int]], sqlite_template: Path, tmp_path: Path
) -> None:
    fake = FakeStripe().start()
    path = tmp_path / f"{uuid.uuid4().hex}.db"
    shutil.copy(sqlite_template, path)
    try:
        asyncio.run(_play(path, fake, plans))
    finally:
        fake.stop()
        path.unlink(missing_ok=True)


async def test_two_processes_capturing_at_once_capture_once_and_record_it_once(db: Database) -> None:
    """Two app processes run the capture job at the same moment (the scheduler's lock aside): Stripe
    sees one idempotency key, the ledger one capture, the payment row one change."""
    fake = FakeStripe().start()
    clock = FixedClock(datetime(2026, 11, 23, 6, 30, tzinfo=UTC))
    other_db = Database(db.url)  # the second process: its own engine and connections
    store, other = Store(db, clock), Store(other_db, clock)
    board = SqlJobBoard(db)
    gateways = [StripeGateway(SECRET_KEY, api_base=fake.base_url, timeout=5.0) for _ in range(2)]
    try:
        coop = await seed_coop(store, uuid.uuid4().hex[:6])
        async with store.uow() as uow:
            await uow.params.change("card_fee_bearer", 0, "setup")
            order = await orders.start_order(uow, coop.donor, *CHENNAI, None, PassThroughScreener())
            ours = {r.id for r in coop.restaurants}  # the PostgreSQL database is shared with other tests
            item = next(o for o in await orders.meal_options(uow, *CHENNAI) if o.restaurant_id in ours)
            payment = await cards.start(uow, gateways[0], order.id, coop.donor, item.item_id, 0)
        pi = fake.pay(payment.intent)
        async with store.uow() as uow:
            await cards.apply_event(uow, CardEvent("evt_" + uuid.uuid4().hex, "authorised", pi["id"], payment.ref, pi["amount"]))
            order = await orders.load(uow, order.id)
        rest = next(r for r in coop.restaurants if r.id == order.restaurant_id)
        for step in ("accept", "claim", "pickup", "deliver"):
            async with store.uow() as uow:
                if step == "accept":
                    await orders.accept(uow, order.id, rest, board, "test")
                elif step == "claim":
                    await orders.claim(uow, order.id, coop.workers[0], board, "test")
                elif step == "pickup":
                    await orders.pickup(uow, order.id, coop.workers[0], board, "test")
                else:
                    await orders.deliver(uow, order.id, coop.workers[0], None, *CHENNAI, "test")
        clock.advance(minutes=31)
        async with store.uow() as uow:
            assert await orders.settle(uow, order.id) is not None
        results = await asyncio.gather(cards.run_due(store, gateways[0]), cards.run_due(other, gateways[1]))
        outcomes = [k for r in results for k, n in r.items() for _ in range(n)]
        assert outcomes.count("capture") == 1 and set(outcomes) <= {"capture", "changed"}
        assert fake.operations == [("capture", payment.intent, payment.charge)]
        async with store.reader() as uow:
            assert await uow.ledger.existing("card_capture", payment.ref) is not None
            assert await uow.ledger.balance(hold_account(payment.id)) == 0
            assert (await uow.cards.get(payment.id)).status is CardStatus.CAPTURED  # type: ignore[union-attr]
            captured = [e async for e in uow.chain.stream() if e.type == "card.payment" and e.data["payment_id"] == payment.id
                        and e.data["state"] == "captured"]  # fmt: skip
        assert len(captured) == 1
        await assert_ledger_invariants(store)
    finally:
        for gateway in gateways:
            await gateway.close()
        await board.close()
        await other_db.dispose()
        fake.stop()
