"""Disputes: a party freezes a delivered order's escrow, an admin resolves it with exact ledger
transactions, and a party may appeal once to a different admin (applied by reversing entries)."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.ledger import service as money
from core.ledger.commitments import commit, new_salt
from core.ledger.model import Posting, Transaction, escrow_account, restaurant_account, settlement
from core.members.model import Person
from core.orders import dispute_reversal as reversal
from core.orders import funding
from core.orders.dispute_model import Dispute, DisputeStatus, Reason, Resolution
from core.orders.dispute_model import DisputeError as DisputeError  # re-exported: callers catch disputes.DisputeError
from core.orders.lifecycle import Status
from core.orders.model import ConcurrentUpdate, Order
from core.ports import UnitOfWork
from core.shared.events import DisputeAppealed, DisputeRaised, DisputeResolved

DISPUTABLE = (Status.DELIVERED, Status.DELIVERY_FAILED)
EVIDENCE_MAX = 500  # characters of a party's own words kept with the dispute


async def parties(uow: UnitOfWork, order: Order) -> list[int]:
    """Person ids of everyone party to an order: donor, contributors, restaurant, worker."""
    ids = [order.donor_id, *(c.person_id for c in await uow.contributions.for_order(order.id))]
    if order.restaurant_id is not None and (r := await uow.restaurants.get(order.restaurant_id)) is not None:
        ids.append(r.person_id)
    if order.worker_id is not None and (w := await uow.workers.get(order.worker_id)) is not None:
        ids.append(w.person_id)
    return list(dict.fromkeys(ids))


async def _order(uow: UnitOfWork, order_id: int) -> Order:
    order = await uow.orders.get(order_id, lock=True)
    if order is None:
        raise DisputeError("not_found", order_id)
    return order


async def check_can_raise(uow: UnitOfWork, order: Order, person: Person) -> None:
    """Raise DisputeError unless the person may report a problem with the order now (asked
    before the reason too, so nobody answers questions only to be refused at the end)."""
    if person.id not in await parties(uow, order):
        raise DisputeError("not_a_party", order.id)
    if await uow.disputes.for_order(order.id) is not None:
        raise DisputeError("already_disputed", order.id)
    if order.status not in DISPUTABLE:
        raise DisputeError(f"not_disputable_{order.status.value}", order.id)
    if order.settle_after is None or uow.now >= order.settle_after:
        raise DisputeError("window_closed", order.id)  # the settle job may already be on its way


async def raise_dispute(uow: UnitOfWork, order_id: int, person: Person, reason: Reason, evidence: str = "") -> Dispute:
    """Freeze a delivered (or failed) order's escrow because a party says it went wrong."""
    order = await _order(uow, order_id)
    await check_can_raise(uow, order, person)
    dispute = Dispute(0, order_id, person.id, reason, evidence.strip()[:EVIDENCE_MAX], DisputeStatus.OPEN, uow.now)
    if not await uow.disputes.add(dispute):
        raise DisputeError("already_disputed", order_id)
    version = order.version
    order.dispute(person.actor, dispute.id, reason.value)
    await uow.orders.save(order, version)
    uow.record(DisputeRaised(actor=person.actor, dispute_id=dispute.id, order_id=order_id, person_id=person.id,
                             reason=reason.value, has_evidence=bool(dispute.evidence)))  # fmt: skip
    return dispute


async def _dispute(uow: UnitOfWork, dispute_id: int) -> Dispute:
    dispute = await uow.disputes.get(dispute_id, lock=True)
    if dispute is None:
        raise DisputeError("no_dispute", dispute_id)
    return dispute


async def _check_admin(uow: UnitOfWork, admin: Person, order: Order) -> None:
    if not admin.is_admin:
        raise DisputeError("not_admin", order.id)
    if admin.id in await parties(uow, order):
        raise DisputeError("party_admin", order.id)  # nobody judges their own order


async def resolve(uow: UnitOfWork, dispute_id: int, admin: Person, resolution: Resolution, note: str) -> Dispute:
    """An admin decides an open dispute: the escrow moves as `resolution` says, the order ends."""
    dispute = await _dispute(uow, dispute_id)
    order = await _order(uow, dispute.order_id)
    await _check_admin(uow, admin, order)
    if dispute.status is not DisputeStatus.OPEN:
        raise DisputeError("already_resolved", dispute_id)
    version, order_version = dispute.version, order.version
    tx_ids = await _apply(uow, order, resolution, 1, admin.actor)
    if resolution is Resolution.REFUND:
        order.refund(admin.actor, await _moved_out(uow, tx_ids))
    else:
        order.settle(admin.actor, tx_ids[0])
    await uow.orders.save(order, order_version)
    dispute.status, dispute.resolution, dispute.resolved_by = DisputeStatus.RESOLVED, resolution, admin.id
    dispute.resolved_at, dispute.note, dispute.tx_ids = uow.now, note.strip(), tx_ids
    await _save(uow, dispute, version)
    uow.record(DisputeResolved(actor=admin.actor, dispute_id=dispute.id, order_id=order.id, resolution=resolution.value,
                               reason_commit=await _commit(uow, f"dispute:{dispute.id}:note", dispute.note), tx_ids=tx_ids))  # fmt: skip
    return dispute


async def check_can_appeal(uow: UnitOfWork, dispute: Dispute, order: Order, person: Person) -> None:
    """Raise DisputeError unless the person may appeal the dispute's decision now (once each,
    within `appeal_window_hours`)."""
    if person.id not in await parties(uow, order):
        raise DisputeError("not_a_party", dispute.id)
    if dispute.status not in (DisputeStatus.RESOLVED, DisputeStatus.APPEALED) or dispute.resolved_at is None:
        raise DisputeError(f"not_appealable_{dispute.status.value}", dispute.id)
    if person.id in dispute.appeals:
        raise DisputeError("already_appealed", dispute.id)
    hours = (await uow.params.current()).appeal_window_hours
    if uow.at >= datetime.fromisoformat(dispute.resolved_at) + timedelta(hours=hours):
        raise DisputeError("appeal_window_closed", dispute.id)


async def appeal(uow: UnitOfWork, dispute_id: int, person: Person) -> Dispute:
    """A party asks a different admin to look again (once each, within `appeal_window_hours`);
    with no second admin the members vote instead (core/governance/appeals.py)."""
    dispute = await _dispute(uow, dispute_id)
    order = await _order(uow, dispute.order_id)
    await check_can_appeal(uow, dispute, order, person)
    version = dispute.version
    dispute.appeals.append(person.id)
    dispute.status = DisputeStatus.APPEALED
    await _save(uow, dispute, version)
    uow.record(DisputeAppealed(actor=person.actor, dispute_id=dispute.id, order_id=order.id, person_id=person.id))
    return dispute


async def second_admins(uow: UnitOfWork, order: Order, dispute: Dispute) -> list[Person]:
    """Admins who may decide the dispute's appeal: party to nothing here, and not its first judge."""
    party_ids = await parties(uow, order)
    return [a for a in await uow.people.admins() if a.id not in party_ids and a.id != dispute.resolved_by]


async def decide_appeal(uow: UnitOfWork, dispute_id: int, admin: Person, resolution: Resolution, note: str) -> Dispute:
    """A second admin decides an appeal; a different outcome reverses the first one's entries and
    records the new ones (corrections are new entries, never edits). Money already spent since the
    first decision is covered by the guarantee pool (core/orders/dispute_reversal.py); when the
    pool cannot cover it, nothing is recorded and the appeal stays open (DisputeError `pool_short`)."""
    dispute = await _dispute(uow, dispute_id)
    order = await _order(uow, dispute.order_id)
    await _check_admin(uow, admin, order)
    if dispute.status is not DisputeStatus.APPEALED:
        raise DisputeError(f"not_appealed_{dispute.status.value}", dispute_id)
    if dispute.vote_id is not None:
        # Put to the members because there was no second admin; an admin who appeared since does
        # not take the case from a vote already running (members may have voted already).
        raise DisputeError("members_vote", dispute.vote_id)
    if admin.id == dispute.resolved_by:
        raise DisputeError("same_admin", dispute_id)
    return await _decide_appeal(uow, dispute, order, resolution, admin.actor, note, source=f"admin:{admin.id}", by=admin.id)


async def decide_by_vote(uow: UnitOfWork, dispute_id: int, proposal_id: int, resolution: Resolution) -> Dispute:
    """The members' vote on an appeal closed: `resolution` is the appealed outcome if it passed,
    else the first decision (which then stands). Same entries as an admin's (source proposal:N)."""
    dispute = await _dispute(uow, dispute_id)
    order = await _order(uow, dispute.order_id)
    if dispute.status is not DisputeStatus.APPEALED or dispute.vote_id != proposal_id:
        raise DisputeError(f"not_appealed_{dispute.status.value}", dispute_id)
    return await _decide_appeal(uow, dispute, order, resolution, "scheduler", "", source=f"proposal:{proposal_id}")


async def check_reversible(uow: UnitOfWork, dispute_id: int) -> None:
    """Raise DisputeError (`pool_short`, `not_reversible`) if the decision could not be taken back now."""
    await reversal.plan(uow, await _dispute(uow, dispute_id))


async def _decide_appeal(uow: UnitOfWork, dispute: Dispute, order: Order, resolution: Resolution, actor: str, note: str,
                         *, source: str, by: int | None = None) -> Dispute:  # fmt: skip
    """Apply an appeal's decision: reverse and redo the money if the outcome changes, and move the
    order to where the money went (settled or refunded); the dispute becomes final."""
    version, order_version = dispute.version, order.version
    tx_ids: list[int] = []
    if resolution is not dispute.resolution:
        plan = await reversal.plan(uow, dispute)  # refuses before anything is written
        for i, tx_id in enumerate(dispute.tx_ids, 1):
            tx_ids.append(await reversal.reverse(uow, order.id, tx_id, i, actor, plan))
        if plan.shortfall:
            tx_ids.append(await reversal.cover(uow, dispute, plan, actor))
        decision = await _apply(uow, order, resolution, 2, actor)
        decision += await reversal.pass_on(uow, order.id, actor)  # a campaign's share goes on to its givers
        decision += await reversal.repay(uow, order.id, plan, decision, actor)
        tx_ids += decision
        dispute.tx_ids = decision
        refunded = resolution is Resolution.REFUND
        if refunded != (order.status is Status.REFUNDED):
            order.overturn(actor, refunded, dispute.id, source)
            await uow.orders.save(order, order_version)
    dispute.status, dispute.appeal_resolution, dispute.appeal_resolved_by = DisputeStatus.FINAL, resolution, by
    dispute.appeal_note = note.strip()
    await _save(uow, dispute, version)
    reason_commit = await _commit(uow, f"dispute:{dispute.id}:appeal_note", dispute.appeal_note)
    uow.record(DisputeResolved(actor=actor, dispute_id=dispute.id, order_id=order.id, resolution=resolution.value,
                               reason_commit=reason_commit, tx_ids=tx_ids, appeal=True, source=source))  # fmt: skip
    return dispute


async def _commit(uow: UnitOfWork, subject: str, words: str) -> str:
    """The chain's salted commitment to an admin's words (the words and salt stay off the chain)."""
    salt = new_salt()
    await uow.commitments.add(subject, salt)
    return commit(words, salt)


async def _save(uow: UnitOfWork, dispute: Dispute, version: int) -> None:
    if not await uow.disputes.save(dispute, version):
        raise ConcurrentUpdate(f"dispute {dispute.id} changed meanwhile")


async def _moved_out(uow: UnitOfWork, tx_ids: list[int]) -> int:
    """How much the transactions took out of escrow accounts."""
    out = 0
    for tx_id in tx_ids:
        out -= sum(v for a, v in await uow.ledger.postings_of(tx_id) if a.startswith("escrow:") and v < 0)
    return out


async def _apply(uow: UnitOfWork, order: Order, resolution: Resolution, round_: int, actor: str) -> list[int]:
    """Record a resolution's ledger transactions (refs `order:<id>:dispute:<round>…`); return their ids."""
    assert order.restaurant_id is not None and order.worker_id is not None
    shares = (await money.order_terms(uow, order)).fee_shares
    ref, why = f"order:{order.id}:dispute:{round_}", f"dispute:{round_}"
    tx_ids: list[int] = []
    if resolution is Resolution.SETTLE:
        tip = 0 if order.delivery_failed else order.tip  # a failed delivery's tip goes back to its givers
        tx = settlement(order.id, order.restaurant_id, order.worker_id, order.meal_price, order.delivery_fee, tip, shares)
        tx_ids.append(await uow.ledger.record(Transaction(tx.kind, ref, tx.postings, "dispute: settle"), actor))
        if order.delivery_failed:
            await _refund(uow, order.id, order.tip, f"{why}:tip", actor, tx_ids, tips=True)
    elif resolution is Resolution.SPLIT_MEAL:
        lines = (Posting(restaurant_account(order.restaurant_id), order.meal_price), Posting(escrow_account(order.id), -order.meal_price))
        tx_ids.append(await uow.ledger.record(Transaction("settle", ref, lines, "dispute: meal only"), actor))
    elif resolution is Resolution.SPLIT_FEE:
        tip = 0 if order.delivery_failed else order.tip  # as for settle: a failed delivery's tip goes back
        tx = settlement(order.id, order.restaurant_id, order.worker_id, 0, order.delivery_fee, tip, shares)
        tx_ids.append(await uow.ledger.record(Transaction(tx.kind, ref, tx.postings, "dispute: fee only"), actor))
        if order.delivery_failed:
            await _refund(uow, order.id, order.tip, f"{why}:tip", actor, tx_ids, tips=True)
    await _refund(uow, order.id, None, why, actor, tx_ids)  # whatever is left goes back
    return tx_ids


async def _refund(uow: UnitOfWork, order_id: int, amount: int | None, why: str, actor: str, tx_ids: list[int],
                  *, tips: bool = False) -> None:  # fmt: skip
    if await funding.refund_to_sources(uow, order_id, amount, why, actor, tips=tips):
        tx_id = await uow.ledger.existing("refund", f"order:{order_id}:refund:{why}")
        assert tx_id is not None
        tx_ids.append(tx_id)
