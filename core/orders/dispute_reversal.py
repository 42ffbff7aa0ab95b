"""Taking a dispute decision back on appeal when its money may have been spent meanwhile: each
account gives back what it still holds, the guarantee pool covers the rest (its own transaction
and chain event) and is repaid first from what the new decision gives the same account.

A campaign-funded order's refund went to the campaign and from there straight on to its givers
(core/campaigns/service.py follows the order): the reversal looks through the campaign to the
givers' balances, exactly as for a donor's refund, and what the new decision returns to the
campaign is passed on to the givers again (repaying the pool first)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.campaigns.lifecycle import TERMINAL as CAMPAIGN_ENDED
from core.campaigns.model import campaign_account
from core.campaigns.service import refund_gifts
from core.ledger.model import POOL, Posting, Transaction, donor_account, escrow_account, is_guarded, transfer
from core.orders.dispute_model import Dispute, DisputeError
from core.orders.funding import Source, share_out
from core.ports import UnitOfWork
from core.shared.events import DisputeShortfallCovered

Taker = Callable[[str, int, dict[str, int]], Awaitable[None]]  # takes paise from an account, or counts it short


@dataclass
class Reversal:
    """What reversing a decision takes back from each account that received money (`taken`, in
    the order of the decision's transactions) and what each could no longer give (`short`)."""

    taken: list[dict[str, int]] = field(default_factory=list)
    short: dict[str, int] = field(default_factory=dict)
    # per transaction, what a campaign had passed on to each giver and now comes back to the
    # escrow: {campaign id: {person id: paise}} (taken back or covered by the pool)
    through: list[dict[int, dict[int, int]]] = field(default_factory=list)

    @property
    def shortfall(self) -> int:
        """Paise the guarantee pool must put back into the escrow."""
        return sum(self.short.values())


async def plan(uow: UnitOfWork, dispute: Dispute) -> Reversal:
    """Plan taking a decision back: each account that received money gives back what it still
    holds, up to what it received; the guarantee pool covers the rest. Nobody's balance goes
    negative, and if the pool cannot cover the rest the decision is refused before any entry.

    Why the pool: a donor who spent a refund, or a worker whose pay went out in a payout, did
    nothing wrong by spending it; the cooperative's guarantee pool stands behind such mistakes,
    and gets repaid first from whatever the new decision gives the same account."""
    out, left = Reversal(), {}

    async def take(account: str, amount: int, taken: dict[str, int]) -> None:
        """Take up to `amount` from a guarded account's balance; the rest is short."""
        if account not in left:
            left[account] = await uow.ledger.balance(account, lock=True)  # held until commit
        got = min(amount, left[account])
        left[account] -= got
        if amount > got:
            out.short[account] = out.short.get(account, 0) + amount - got
        taken[account] = taken.get(account, 0) + got

    for tx_id in dispute.tx_ids:
        taken: dict[str, int] = {}
        through: dict[int, dict[int, int]] = {}
        for account, amount in await uow.ledger.postings_of(tx_id):
            if account.startswith("escrow:"):
                continue
            if amount < 0:  # only the escrow pays out in a decision; anything else cannot be undone blindly
                raise DisputeError("not_reversible", dispute.id)
            if not is_guarded(account):
                taken[account] = taken.get(account, 0) + amount
            elif account.startswith("campaign:"):
                await _through_campaign(uow, int(account.split(":", 1)[1]), amount, take, taken, through)
            else:
                await take(account, amount, taken)
        out.taken.append(taken)
        out.through.append(through)
    if out.shortfall:
        pool = left[POOL] if POOL in left else await uow.ledger.balance(POOL, lock=True)
        if out.shortfall > pool:
            raise DisputeError("pool_short", dispute.id, out.shortfall - pool)
    return out


async def _through_campaign(uow: UnitOfWork, campaign_id: int, amount: int, take: Taker, taken: dict[str, int],
                            through: dict[int, dict[int, int]]) -> None:  # fmt: skip
    """Take back `amount` a decision gave a campaign: first what the campaign still holds, then
    from the givers it passed the money on to, in proportion to what each was passed."""
    account = campaign_account(campaign_id)
    held = min(amount, await uow.ledger.balance(account, lock=True))
    if held:
        await take(account, held, taken)
    rest = amount - held
    passed = await _passed_on(uow, campaign_id)
    people = sorted(passed)
    parts = share_out(min(rest, sum(passed.values())), [passed[p] for p in people]) if people else []
    for person_id, part in zip(people, parts, strict=True):
        if part:
            await take(donor_account(person_id), part, taken)
            mine = through.setdefault(campaign_id, {})
            mine[person_id] = mine.get(person_id, 0) + part
    if rest > sum(parts):  # passed on to nobody we can find: the pool covers it
        await take(account, rest - sum(parts), taken)


async def _passed_on(uow: UnitOfWork, campaign_id: int) -> dict[int, int]:
    """What a campaign passed on to each giver when its order ended (person id → paise)."""
    for why in ("complete", "fail"):
        tx_id = await uow.ledger.existing("refund", f"campaign:{campaign_id}:refund:{why}")
        if tx_id is not None:
            postings = await uow.ledger.postings_of(tx_id)
            return {int(a.split(":", 1)[1]): v for a, v in postings if a.startswith("donor:") and v > 0}
    return {}


async def pass_on(uow: UnitOfWork, order_id: int, actor: str) -> list[int]:
    """After a new decision, what it returned to an ended campaign goes on to the givers (the
    campaign no longer follows its order); the ledger transaction's id, if any."""
    campaign = await uow.campaigns.for_order(order_id)
    if campaign is None or campaign.status not in CAMPAIGN_ENDED:
        return []
    if not await refund_gifts(uow, campaign, "appeal", actor):
        return []
    tx_id = await uow.ledger.existing("refund", f"campaign:{campaign.id}:refund:appeal")
    assert tx_id is not None
    return [tx_id]


async def cover(uow: UnitOfWork, dispute: Dispute, plan: Reversal, actor: str) -> int:
    """The guarantee pool puts back into the escrow what could not be taken back; a chain event."""
    escrow = escrow_account(dispute.order_id)
    tx = transfer("cover", f"order:{dispute.order_id}:dispute:cover", POOL, escrow, plan.shortfall,
                  "guarantee pool covers money already spent")  # fmt: skip
    tx_id = await uow.ledger.record(tx, actor)
    uow.record(DisputeShortfallCovered(actor=actor, dispute_id=dispute.id, order_id=dispute.order_id, tx_id=tx_id,
                                       amount=plan.shortfall, accounts=[[a, v] for a, v in sorted(plan.short.items())]))  # fmt: skip
    return tx_id


async def repay(uow: UnitOfWork, order_id: int, plan: Reversal, decision: list[int], actor: str) -> list[int]:
    """What the new decision gives an account that could not give back repays the pool first."""
    given: dict[str, int] = {}
    for tx_id in decision:
        for account, amount in await uow.ledger.postings_of(tx_id):
            if amount > 0:
                given[account] = given.get(account, 0) + amount
    repaid = {a: min(short, given.get(a, 0)) for a, short in sorted(plan.short.items()) if a != POOL}
    repaid = {a: v for a, v in repaid.items() if v}
    if not repaid:
        return []
    lines = (*(Posting(a, -v) for a, v in repaid.items()), Posting(POOL, sum(repaid.values())))
    tx = Transaction("repay", f"order:{order_id}:dispute:repay", lines, "repays the guarantee pool's cover")
    tx_id = await uow.ledger.record(tx, actor)
    for account, value in repaid.items():
        if account.startswith("pledge:"):  # the pledge's mirror of its ledger balance follows
            await uow.pledges.move(int(account.split(":", 1)[1]), -value)
    return [tx_id]


async def reverse(uow: UnitOfWork, order_id: int, tx_id: int, seq: int, actor: str, plan: Reversal) -> int:
    """Record the opposite of one transaction, as far as each account still holds it (the pool's
    cover adds the rest); money refunded to a source counts as held again, all of it."""
    postings = await uow.ledger.postings_of(tx_id)
    taken = plan.taken[seq - 1]
    escrow = escrow_account(order_id)
    lines = (Posting(escrow, sum(taken.values())), *(Posting(a, -v) for a, v in taken.items() if v))
    reversal = Transaction("reverse", f"order:{order_id}:dispute:reverse:{seq}", lines, f"reverses transaction {tx_id}")
    new_id = await uow.ledger.record(reversal, actor)
    for account, value in taken.items():
        if account.startswith("pledge:") and value:  # the pledge's mirror of its ledger balance follows
            await uow.pledges.move(int(account.split(":", 1)[1]), -value)
    for campaign_id, per_person in plan.through[seq - 1].items():  # the gifts are held in the escrow again
        await _unrefund_gifts(uow, campaign_id, per_person)
    back = {a: v for a, v in postings if not a.startswith("escrow:") and v > 0}
    contributions = list(reversed(await uow.contributions.for_order(order_id)))
    for contribution in contributions:
        part = min(back.get(contribution.account, 0), contribution.refunded)
        if part:
            await uow.contributions.add_refunded(contribution.id, -part)
            back[contribution.account] -= part
    for contribution in contributions:  # a cancelled pledge's refund went to its donor's balance
        pledger = donor_account(contribution.person_id)
        part = min(back.get(pledger, 0), contribution.refunded) if contribution.source is Source.PLEDGE else 0
        if part:
            await uow.contributions.add_refunded(contribution.id, -part)
            await uow.pledges.move(int(contribution.account.split(":", 1)[1]), 0, returned=-part)
            back[pledger] -= part
    return new_id


async def _unrefund_gifts(uow: UnitOfWork, campaign_id: int, per_person: dict[int, int]) -> None:
    """Count money a campaign passed on and an appeal brought back as held by its gifts again."""
    left = dict(per_person)
    for gift in reversed(await uow.campaigns.gifts(campaign_id)):
        part = min(left.get(gift.person_id, 0), gift.refunded)
        if part:
            await uow.campaigns.add_gift_refunded(gift.id, -part)
            left[gift.person_id] -= part
