"""Campaign handlers: start one on a screened order, give to it, place its order when the target
is met, refund everyone when it expires or is cancelled, and follow its order to the end."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from core.board.base import JobBoard
from core.campaigns.lifecycle import OPEN, TRANSITIONS, CampaignStatus
from core.campaigns.model import Campaign, Gift, campaign_account
from core.ledger.model import Posting, Transaction, donor_account, transfer
from core.members.model import Person
from core.orders import funding
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.payments.card_model import hold_account
from core.ports import UnitOfWork
from core.shared.events import CampaignGiven, CampaignTransitioned, DomainEvent, OrderTransitioned

# Share codes: no 0/O, 1/I/L, so a code read aloud or copied by hand is typed right.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 5
ECHO_LENGTH = 12  # at most this much of a typed code is repeated back to its sender
MAX_KEY = 64


class CampaignError(Exception):
    """A command about a campaign that cannot be carried out; `code` names why."""

    def __init__(self, code: str, campaign_id: int | None = None, *, remaining: int = 0, least: int = 0) -> None:
        super().__init__(f"{code} (campaign {campaign_id})")
        self.code, self.campaign_id, self.remaining, self.least = code, campaign_id, remaining, least


@dataclass(frozen=True)
class GiveResult:
    """What a gift did: the campaign after it, the gift, and whether it was a repeat of one done."""

    campaign: Campaign
    gift: Gift
    repeated: bool = False


def new_code() -> str:
    """A random share code (5 characters from 31: 28 million codes, so guessing one is idle)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """A typed code as stored: upper case, no spaces or dashes."""
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())[:16]


def echo_code(text: str) -> str:
    """What of a typed code may be repeated back: only share-code letters, upper case, capped
    (never bidi controls, emoji or other text someone could make the reply say)."""
    return "".join(c for c in text.upper() if c in CODE_ALPHABET)[:ECHO_LENGTH]


async def start(uow: UnitOfWork, creator: Person, order_id: int, item_id: int, tip: int) -> Campaign:
    """Open a campaign for the creator's screened order and chosen meal; the target is the meal,
    the delivery fee and the tip. Starting twice for one order gives the same campaign."""
    order = await orders.load(uow, order_id)
    if order.donor_id != creator.id:
        raise CampaignError("not_yours")
    if (existing := await uow.campaigns.for_order(order_id)) is not None:
        return existing  # a double tap on "Start a campaign"
    if order.status is not Status.SCREENED:
        raise CampaignError("not_screened")
    options = await orders.meal_options(uow, order.seeker_lat, order.seeker_lng)
    chosen = next((o for o in options if o.item_id == item_id), None)
    if chosen is None:
        raise CampaignError("meal_unavailable")
    params = await uow.params.current()
    expires = (uow.at + timedelta(minutes=params.campaign_max_minutes)).isoformat()
    code = new_code()
    while await uow.campaigns.by_code(code) is not None:
        code = new_code()
    campaign = Campaign(
        id=0, code=code, creator_id=creator.id, order_id=order.id, status=CampaignStatus.CREATED,
        restaurant_id=chosen.restaurant_id, item_id=chosen.item_id, meal_name=chosen.item_name, meal_price=chosen.price,
        delivery_fee=params.delivery_fee, tip=max(tip, 0), expires_at=expires, created_at=uow.now,
    )  # fmt: skip
    await uow.campaigns.add(campaign)
    uow.record(CampaignTransitioned(actor=creator.actor, campaign_id=campaign.id, transition="start", from_status="",
                                    to_status=campaign.status.value,
                                    details={"order_id": order.id, "target": campaign.target, "expires_at": expires}))  # fmt: skip
    return campaign


async def _open_campaign(uow: UnitOfWork, campaign_id: int) -> Campaign:
    campaign = await uow.campaigns.get(campaign_id, lock=True)
    if campaign is None:
        raise CampaignError("not_found", campaign_id)
    return campaign


async def give(uow: UnitOfWork, campaign_id: int, giver: Person, amount: int, *, anonymous: bool, key: str) -> GiveResult:
    """Move one gift from the giver's balance to the campaign (its own ledger transaction). The
    same key again is the same gift (a double tap, a webhook delivered twice): nothing more is
    charged. A gift beyond what the campaign still needs is refused, never kept. The gift that
    meets the target places the order in the same transaction."""
    campaign = await _open_campaign(uow, campaign_id)  # row-locked: gifts racing for the last rupees queue here
    key = key[:MAX_KEY]
    if (done := await uow.campaigns.gift_by_key(campaign.id, key)) is not None:
        if done.person_id != giver.id or done.amount != amount:
            raise CampaignError("key_reused", campaign.id)
        return GiveResult(campaign, done, repeated=True)
    if campaign.status not in OPEN:
        raise CampaignError(f"closed_{campaign.status.value}", campaign.id)
    if campaign.expires_at <= uow.now:
        raise CampaignError("closed_expired", campaign.id)  # the expiry job has not run yet
    least = min((await uow.params.current()).min_contribution, campaign.remaining)
    if amount > campaign.remaining:
        raise CampaignError("too_much", campaign.id, remaining=campaign.remaining, least=least)
    if amount < least or amount <= 0:
        raise CampaignError("too_small", campaign.id, remaining=campaign.remaining, least=least)
    seq = len(await uow.campaigns.gifts(campaign.id)) + 1
    tx = transfer("campaign_give", f"campaign:{campaign.id}:g{seq}", donor_account(giver.id), campaign_account(campaign.id),
                  amount, "campaign contribution")  # fmt: skip
    await uow.ledger.record(tx, giver.actor)  # raises InsufficientFunds before anything is stored
    gift = await uow.campaigns.add_gift(campaign.id, seq, giver.id, amount, anonymous, key)
    return await _counted(uow, campaign, gift, giver)


def card_gift_key(payment_id: int) -> str:
    """The idempotency key of the gift a card payment makes (one gift per payment)."""
    return f"card:{payment_id}"


async def give_by_card(uow: UnitOfWork, campaign_id: int, giver: Person, amount: int, *, anonymous: bool,
                       payment_id: int, hold: str) -> GiveResult:  # fmt: skip
    """Count a card hold as a gift: the money stays in the hold account `hold` (card:<payment>)
    until the order is placed, when it funds the escrow as its own card contribution. Checked like
    a balance gift (open, not expired, not beyond what is still needed); the same payment again is
    the same gift."""
    campaign = await _open_campaign(uow, campaign_id)
    key = card_gift_key(payment_id)
    if (done := await uow.campaigns.gift_by_key(campaign.id, key)) is not None:
        return GiveResult(campaign, done, repeated=True)
    if campaign.status not in OPEN:
        raise CampaignError(f"closed_{campaign.status.value}", campaign.id)
    if campaign.expires_at <= uow.now:
        raise CampaignError("closed_expired", campaign.id)
    if amount > campaign.remaining:
        # Other gifts came first while the donor was on the card page: the hold is released, never kept.
        raise CampaignError("too_much", campaign.id, remaining=campaign.remaining)
    if amount <= 0 or await uow.ledger.balance(hold) < amount:
        raise CampaignError("too_small", campaign.id, remaining=campaign.remaining)
    seq = len(await uow.campaigns.gifts(campaign.id)) + 1
    gift = await uow.campaigns.add_gift(campaign.id, seq, giver.id, amount, anonymous, key, payment_id=payment_id)
    return await _counted(uow, campaign, gift, giver)


async def _counted(uow: UnitOfWork, campaign: Campaign, gift: Gift, giver: Person) -> GiveResult:
    """Count a stored gift: the campaign's new total and version, the chain event, and at the
    target the order placed by itself."""
    version = campaign.version
    campaign.raised += gift.amount
    campaign.version += 1  # every gift is a new version, so a lost update is impossible without the lock too
    uow.record(CampaignGiven(actor=giver.actor, campaign_id=campaign.id, seq=gift.seq, person_id=giver.id, amount=gift.amount,
                             anonymous=gift.anonymous, raised=campaign.raised, target=campaign.target))  # fmt: skip
    if campaign.remaining == 0:
        campaign.move("meet", giver.actor, gifts=gift.seq)
        await _place(uow, campaign, giver.actor)
    elif campaign.status is CampaignStatus.CREATED:
        campaign.move("give", giver.actor)
    await uow.campaigns.save(campaign, version)
    return GiveResult(campaign, gift)


def gift_source(gift: Gift) -> tuple[str, funding.Source]:
    """Where a gift's money is until the order is placed: the campaign account, or its card hold."""
    if gift.payment_id is not None:
        return hold_account(gift.payment_id), funding.Source.CARD
    return campaign_account(gift.campaign_id), funding.Source.CAMPAIGN


async def _place(uow: UnitOfWork, campaign: Campaign, actor: str) -> None:
    """Fund the campaign's order with every gift as its own contribution and send it on; a card
    gift funds the escrow from its hold, as an order paid by card does (captured at settlement)."""
    order = await orders.load(uow, campaign.order_id)
    version = order.version
    order.choose_meal(campaign.restaurant_id, campaign.item_id, campaign.meal_name, campaign.meal_price,
                      campaign.delivery_fee, campaign.tip)  # fmt: skip
    gifts = await uow.campaigns.gifts(campaign.id)
    tips = funding.share_out(campaign.tip, [g.amount for g in gifts])  # the tip, as each gift's share of it
    for gift, tip in zip(gifts, tips, strict=True):
        account, source = gift_source(gift)
        await funding.contribute(uow, order.id, gift.person_id, account, source, gift.amount, tip, actor)
    order.fund(actor, source="campaign")
    await orders.send_funded(uow, order, actor)
    await uow.orders.save(order, version)
    campaign.move("place", actor, order_id=order.id)


async def refund_gifts(uow: UnitOfWork, campaign: Campaign, why: str, actor: str) -> dict[int, int]:
    """Return what the campaign account holds to the givers, in proportion to what each still
    has in it (all of it, exactly, before an order is placed); one ledger transaction. Return
    paise refunded per person. Card gifts are not here: their money never left the card's hold,
    and the card job releases (or refunds) it when the campaign or its order ends."""
    gifts = [g for g in await uow.campaigns.gifts(campaign.id) if g.payment_id is None]
    account = campaign_account(campaign.id)
    weights = [g.held for g in gifts]
    value = min(await uow.ledger.balance(account), sum(weights))
    if value <= 0:
        return {}
    parts = funding.share_out(value, weights)
    per_person: dict[int, int] = {}
    for gift, part in zip(gifts, parts, strict=True):
        if part:
            per_person[gift.person_id] = per_person.get(gift.person_id, 0) + part
            await uow.campaigns.add_gift_refunded(gift.id, part)
    lines = (Posting(account, -value), *(Posting(donor_account(p), v) for p, v in sorted(per_person.items())))
    await uow.ledger.record(Transaction("refund", f"campaign:{campaign.id}:refund:{why}", lines, why), actor)
    return per_person


async def close(uow: UnitOfWork, campaign_id: int, transition: str, by: Person | None, board: JobBoard) -> Campaign | None:
    """Expire (`by` None: the scheduler) or cancel an open campaign: every gift back to its giver
    at once, and the seeker's screened order cancelled. An expiry not yet due, or of a campaign
    no longer open, is a no-op (None); a cancel by anyone but the creator or an admin is refused."""
    campaign = await _open_campaign(uow, campaign_id)
    if by is not None and campaign.creator_id != by.id and not by.is_admin:
        raise CampaignError("not_yours", campaign.id)
    if campaign.status not in OPEN:
        if by is None:
            return None
        raise CampaignError(f"closed_{campaign.status.value}", campaign.id)
    if by is None and campaign.expires_at > uow.now:
        return None
    actor = by.actor if by is not None else "scheduler"
    version = campaign.version
    refunds = await refund_gifts(uow, campaign, transition, actor)
    campaign.move(transition, actor, refunds={str(p): v for p, v in refunds.items()})
    await uow.campaigns.save(campaign, version)
    order = await uow.orders.get(campaign.order_id)
    creator = await uow.people.get(campaign.creator_id)
    if order is not None and creator is not None and order.status in (Status.DRAFT, Status.SCREENED):
        # so the unpaid request stops holding the seeker's face in the duplicate window
        await orders.cancel(uow, order.id, creator, board)
    return campaign


# What each order transition means for the campaign that placed it.
_FOLLOW = {"deliver": "deliver", "fail_delivery": "deliver", "settle": "complete",
           "decline": "fail", "cancel": "fail", "abandon": "fail", "refund": "fail",
           # an appeal's money was passed on to the givers by the decision itself (dispute_reversal.pass_on)
           "overturn_to_settled": "overturn_to_completed", "overturn_to_refunded": "overturn_to_refunded"}  # fmt: skip


async def follow_order(event: DomainEvent, uow: UnitOfWork) -> None:
    """Bus handler: move a campaign along with its order, and when the order ends return what
    came back to the campaign (a reroute's difference, a tip, a refund) to the givers."""
    assert isinstance(event, OrderTransitioned)
    step = _FOLLOW.get(event.transition)
    if step is None or (found := await uow.campaigns.for_order(event.order_id)) is None:
        return
    campaign = await _open_campaign(uow, found.id)
    if campaign.status in OPEN:
        if event.transition == "cancel":  # the creator cancelled the order itself: the campaign goes too
            version = campaign.version
            refunds = await refund_gifts(uow, campaign, "cancel", event.actor)
            campaign.move("cancel", event.actor, refunds={str(p): v for p, v in refunds.items()})
            await uow.campaigns.save(campaign, version)
        return
    if campaign.status not in TRANSITIONS[step][0]:
        return  # already there (a settlement after a dispute that the campaign followed) or ended
    version = campaign.version
    refunds = await refund_gifts(uow, campaign, step, event.actor) if step in ("complete", "fail") else {}
    campaign.move(step, event.actor, order_transition=event.transition, refunds={str(p): v for p, v in refunds.items()})
    await uow.campaigns.save(campaign, version)
