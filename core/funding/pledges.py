"""Pledges: make, pause, resume, cancel, renew monthly, and draw on them for an order's escrow.

Every money move is a ledger transaction (kind `pledge`, or the order's own `fund`/`refund`
transactions) and so a chain event; `pledges.remaining` mirrors the ledger balance of
`pledge:<id>` and changes only next to a ledger move in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.funding.pledge_model import RANK, Pledge, PledgeError, PledgeStatus, PledgeTerms
from core.ledger.model import InsufficientFunds, donor_account, transfer
from core.ledger.params import Params
from core.orders import funding
from core.orders.model import Order
from core.ports import UnitOfWork
from core.shared import geo
from core.shared.clock import LOCAL_TZ
from core.shared.events import PledgeChanged, PledgeDigest, PledgeNews, PledgeUsed

# "Tell me more often": a pledge's donor hears of its uses at most once in this many minutes, so
# a lunch rush of several meals is one message (the job runs every minute; the first use after a
# quiet spell is told within a minute).
OFTEN_GAP_MIN = 5


def next_month(day: str) -> str:
    """The same day of the next month (the month's last day when it has fewer days)."""
    d = date.fromisoformat(day)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    for last in (d.day, 30, 29, 28):
        try:
            return date(year, month, min(d.day, last)).isoformat()
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


async def check_amount(uow: UnitOfWork, amount: int) -> None:
    """Refuse an amount below the governed minimum contribution or above `max_money_pledge`."""
    params = await uow.params.current()
    if amount < params.min_contribution:
        raise PledgeError("too_small")
    if amount > params.max_money_pledge:
        raise PledgeError("too_large")


async def make_pledge(uow: UnitOfWork, person_id: int, terms: PledgeTerms, actor: str) -> Pledge:
    """Put money aside from the donor's balance into a new pledge (raises InsufficientFunds)."""
    await check_amount(uow, terms.amount)
    terms.check()
    pledge = await uow.pledges.add(person_id, terms, next_month(uow.day) if terms.auto_renew else None)
    await uow.ledger.record(transfer("pledge", f"pledge:{pledge.id}:make", donor_account(person_id), pledge.account,
                                     terms.amount, "pledge made"), actor)  # fmt: skip
    await uow.pledges.move(pledge.id, terms.amount, total_in=terms.amount)
    uow.record(PledgeChanged(actor=actor, pledge_id=pledge.id, person_id=person_id, change="made", amount=terms.amount,
                             kind=terms.kind.value, auto_renew=terms.auto_renew))  # fmt: skip
    return await _reload(uow, pledge.id)


async def _reload(uow: UnitOfWork, pledge_id: int) -> Pledge:
    pledge = await uow.pledges.get(pledge_id)
    assert pledge is not None
    return pledge


async def _owned(uow: UnitOfWork, pledge_id: int, person_id: int) -> Pledge:
    """Lock a pledge of this donor or raise PledgeError (unknown and someone else's look alike)."""
    pledge = await uow.pledges.get(pledge_id, lock=True)
    if pledge is None or pledge.person_id != person_id:
        raise PledgeError("not_yours", pledge_id)
    if pledge.status is PledgeStatus.CANCELLED:
        raise PledgeError("cancelled", pledge_id)
    return pledge


async def cancel_pledge(uow: UnitOfWork, pledge_id: int, person_id: int, actor: str) -> int:
    """Stop a pledge and give what is left back to its donor's balance; return that amount."""
    pledge = await _owned(uow, pledge_id, person_id)
    left = await uow.ledger.balance(pledge.account)
    if left:
        await uow.ledger.record(transfer("pledge", f"pledge:{pledge.id}:cancel", pledge.account, donor_account(person_id),
                                         left, "pledge cancelled"), actor)  # fmt: skip
        await uow.pledges.move(pledge.id, -left, returned=left)
    await uow.pledges.set_status(pledge.id, PledgeStatus.CANCELLED)
    await uow.pledges.set_renew_on(pledge.id, None)
    uow.record(PledgeChanged(actor=actor, pledge_id=pledge.id, person_id=person_id, change="cancelled", amount=left,
                             kind=pledge.terms.kind.value))  # fmt: skip
    return left


async def pause_pledge(uow: UnitOfWork, pledge_id: int, person_id: int, actor: str, *, paused: bool = True) -> Pledge:
    """Stop (or, with paused=False, restart) a pledge paying for meals; its money stays in it."""
    pledge = await _owned(uow, pledge_id, person_id)
    wanted = PledgeStatus.PAUSED if paused else PledgeStatus.ACTIVE
    if pledge.status is wanted:
        raise PledgeError("already_paused" if paused else "already_active", pledge_id)
    await uow.pledges.set_status(pledge.id, wanted)
    if not paused and pledge.terms.auto_renew and (pledge.renew_on or "") <= uow.day:
        await uow.pledges.set_renew_on(pledge.id, next_month(uow.day))  # a missed renewal is not made up for
    uow.record(PledgeChanged(actor=actor, pledge_id=pledge.id, person_id=person_id, change="paused" if paused else "resumed",
                             kind=pledge.terms.kind.value))  # fmt: skip
    return await _reload(uow, pledge.id)


def local_hour(uow: UnitOfWork) -> int:
    """The hour of the day in India time, which time pledges are written in."""
    return uow.at.astimezone(LOCAL_TZ).hour


async def room_for(uow: UnitOfWork, requester_id: int, *, lock: bool = False) -> int:
    """What pledges may still pay today for orders this person requests (the governed daily cap
    less what they paid already today); `lock` serialises the person's own concurrent orders."""
    cap = (await uow.params.current()).pledge_daily_cap_per_requester
    return max(cap - await uow.pledges.drawn_for_requester(requester_id, uow.day, lock=lock), 0)


def may_pay(pledge: Pledge, requester_id: int | None, lat: float, lng: float, hour: int) -> bool:
    """Whether a pledge may pay for a meal here and now requested by this person: never its own
    pledger's (a pledge is money given for other people's meals)."""
    return pledge.person_id != requester_id and pledge.covers(lat, lng, hour)


async def available_for(uow: UnitOfWork, lat: float, lng: float, enough: int = 10**12, page: int = 20, *,
                        requester_id: int | None = None) -> int:  # fmt: skip
    """What matching pledges hold now for a meal at a place, counted until `enough` (a preview:
    allocation decides); for a requester, without their own pledges and within their daily cap."""
    if requester_id is not None:
        enough = min(enough, await room_for(uow, requester_id))
    hour, found, after = local_hour(uow), 0, (0, 0)
    while found < enough:
        batch = await uow.pledges.candidates(lat, lng, hour, after, page)
        found += sum(p.remaining for p in batch if may_pay(p, requester_id, lat, lng, hour))
        if len(batch) < page:
            break
        after = (RANK[batch[-1].terms.kind.value], batch[-1].id)
    return min(found, enough) if requester_id is not None else found


@dataclass(frozen=True)
class Allocation:
    """What pledges paid towards an order: [(pledge_id, paise)] in allocation order."""

    uses: tuple[tuple[int, int], ...]

    @property
    def total(self) -> int:
        """All that pledges paid."""
        return sum(a for _p, a in self.uses)


@dataclass(frozen=True)
class Plan:
    """What pledges would pay towards an order: [(locked pledge, paise)] in allocation order, and
    the number its first contribution gets when the store read it with them (good until another
    contribution to the order is made in this transaction: the draw follows the plan at once)."""

    draws: tuple[tuple[Pledge, int], ...]
    first_contribution: int | None = None

    @property
    def total(self) -> int:
        """All that pledges would pay."""
        return sum(a for _p, a in self.draws)


async def plan(uow: UnitOfWork, order: Order, need: int, *, page: int = 20) -> Plan:
    """Choose what pledges would pay towards an order, writing nothing: up to `need` paise, within
    the requester's daily cap, never from the requester's own pledges — location+time, location,
    time, general; oldest first within each; each paying min(what it holds, what is still
    needed). The requester's row is locked first (their concurrent orders take turns, so the cap
    holds), then each chosen pledge, in that same order (one total order, so concurrent orders
    never deadlock), so the plan stays true until the transaction ends. Usually two round trips
    (`lock_requester`, one `pick`); another pass only when pledges read were spent meanwhile."""
    hour, lat, lng, requester = local_hour(uow), order.seeker_lat, order.seeker_lng, order.donor_id
    cap = await uow.pledges.lock_requester(requester, "pledge_daily_cap_per_requester",
                                           Params().pledge_daily_cap_per_requester)  # fmt: skip
    draws: list[tuple[Pledge, int]] = []
    after, got, target, first = (0, 0), 0, None, None
    while target is None or got < target:
        picked = await uow.pledges.pick(requester, uow.day, lat, lng, hour, need - got, cap - got, after, page,
                                        order_id=order.id if target is None else None)  # fmt: skip
        if target is None:
            target, first = max(min(need, cap - picked.drawn_today), 0), picked.next_contribution
        for pledge in picked.locked:
            if got >= target:
                break
            if not may_pay(pledge, requester, lat, lng, hour):
                continue  # the store's filter is a metre generous at the circle's edge
            take = min(pledge.remaining, target - got)
            draws.append((pledge, take))
            got += take
        if picked.after is None or not picked.more:
            break
        after = picked.after
    return Plan(tuple(draws), first)


async def draw(uow: UnitOfWork, order: Order, planned: Plan, actor: str) -> Allocation:
    """Carry out a plan made in this transaction (its pledges are still locked): each use its own
    contribution to the escrow, all written together."""
    if not planned.draws:
        return Allocation(())
    parts = [(pledge.person_id, pledge.account, take) for pledge, take in planned.draws]
    await funding.contribute_many(uow, order.id, funding.Source.PLEDGE, parts, actor, first=planned.first_contribution)
    uses = tuple((pledge.id, take) for pledge, take in planned.draws)
    await uow.pledges.spend(order.id, uses, uow.day, geo.approximate_area(order.seeker_lat, order.seeker_lng))
    uow.record(PledgeUsed(actor=actor, order_id=order.id, uses=[[i, a] for i, a in uses]))
    return Allocation(uses)


async def allocate(uow: UnitOfWork, order: Order, need: int, actor: str, *, page: int = 20) -> Allocation:
    """Draw up to `need` paise for an order from matching pledges (see `plan`), each use its own
    contribution to the escrow."""
    return await draw(uow, order, await plan(uow, order, need, page=page), actor)


async def renew_due(uow: UnitOfWork, actor: str = "scheduler") -> dict[int, bool]:
    """Renew every auto-renewing pledge due in one unit of work (tests, small runs); the
    scheduled job renews each in a transaction of its own (`core.schedule.jobs.renew_pledges`)."""
    done: dict[int, bool] = {}
    for pledge_id in await uow.pledges.due_for_renewal(uow.day):
        if (renewed := await renew_one(uow, pledge_id, actor)) is not None:
            done[pledge_id] = renewed
    return done


async def renew_one(uow: UnitOfWork, pledge_id: int, actor: str = "scheduler") -> bool | None:
    """Renew one due pledge from its donor's balance: True; one that cannot be funded is paused
    (never overdrawn) and its donor told: False; None when it is not (or no longer) due.
    Idempotent per pledge and month (the ledger ref names the month's renewal day)."""
    pledge = await uow.pledges.get(pledge_id, lock=True)
    if pledge is None or pledge.status is not PledgeStatus.ACTIVE or not pledge.terms.auto_renew:
        return None
    if not pledge.renew_on or pledge.renew_on > uow.day:
        return None
    amount, due = pledge.terms.amount, pledge.renew_on
    try:
        await uow.ledger.record(transfer("pledge", f"pledge:{pledge.id}:renew:{due}", donor_account(pledge.person_id),
                                         pledge.account, amount, "pledge renewed"), actor)  # fmt: skip
    except InsufficientFunds:  # raised before anything is written
        await uow.pledges.set_status(pledge.id, PledgeStatus.PAUSED)
        await uow.pledges.set_renew_on(pledge.id, next_month(due))
        uow.record(PledgeChanged(actor=actor, pledge_id=pledge.id, person_id=pledge.person_id, change="renewal_failed",
                                 amount=amount, kind=pledge.terms.kind.value, auto_renew=True))  # fmt: skip
        return False
    await uow.pledges.move(pledge.id, amount, total_in=amount)
    await uow.pledges.set_renew_on(pledge.id, next_month(due))
    uow.record(PledgeChanged(actor=actor, pledge_id=pledge.id, person_id=pledge.person_id, change="renewed",
                             amount=amount, kind=pledge.terms.kind.value, auto_renew=True))  # fmt: skip
    return True


async def set_often(uow: UnitOfWork, pledge_id: int, person_id: int, often: bool, actor: str) -> Pledge:
    """The donor chooses to hear of every use of a pledge (batched) or, with often=False, once a day."""
    pledge = await _owned(uow, pledge_id, person_id)
    if pledge.often is often:
        raise PledgeError("already_often" if often else "already_daily", pledge_id)
    await uow.pledges.set_often(pledge.id, often)  # from the uses after now: none is told twice that way
    uow.record(PledgeChanged(actor=actor, pledge_id=pledge.id, person_id=person_id,
                             change="tell_often" if often else "tell_daily", kind=pledge.terms.kind.value))  # fmt: skip
    return await _reload(uow, pledge.id)


async def tell_often(uow: UnitOfWork, pledge_id: int, actor: str = "scheduler") -> PledgeNews | None:
    """Tell a pledge's donor (who asked to hear of every use) what it paid for since they were last
    told; None when there is nothing new or another process told them."""
    pledge = await uow.pledges.get(pledge_id)
    if pledge is None or not pledge.often:
        return None
    upto, uses = await uow.pledges.untold_uses(pledge_id)
    if not uses or not await uow.pledges.mark_told_often(pledge_id, upto):
        return None
    areas = [u.area for u in uses]
    news = PledgeNews(actor=actor, pledge_id=pledge_id, person_id=pledge.person_id, upto_use_id=upto,
                      meals=len({u.order_id for u in uses}), amount=sum(u.amount for u in uses),
                      area=max(areas, key=areas.count), remaining=pledge.remaining)  # fmt: skip
    uow.record(news)
    return news


async def tell_pledgers(uow: UnitOfWork, day: str, actor: str = "scheduler") -> list[PledgeDigest]:
    """Once a day per pledge, what it paid for that day: meals, money, the area, what is left
    (not to donors who hear of every use: they were told already)."""
    told = []
    for pledge_id, uses in sorted((await uow.pledges.used_on(day)).items()):
        pledge = await uow.pledges.get(pledge_id)
        if pledge is None or pledge.often or not await uow.pledges.mark_told(pledge_id, day):
            continue
        areas = [u.area for u in uses]
        digest = PledgeDigest(actor=actor, pledge_id=pledge_id, person_id=pledge.person_id, day=day,
                              meals=len({u.order_id for u in uses}), amount=sum(u.amount for u in uses),
                              area=max(areas, key=areas.count), remaining=pledge.remaining)  # fmt: skip
        uow.record(digest)
        told.append(digest)
    return told
