"""A card payment for one order: its states, the processor fee, the hold account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.ledger.model import BP

CARD = "external:card"  # money cards have given (negative: held or captured, not yet released)
CARD_FEES = "external:card_fees"  # what the processor kept


def hold_account(payment_id: int) -> str:
    """The ledger account holding one authorisation between the card and the order's escrow."""
    return f"card:{payment_id}"


class CardStatus(StrEnum):
    """Where a card payment stands; stored as its value."""

    CREATED = "created"  # link sent, nothing held yet
    AUTHORISED = "authorised"  # the bank holds the money; the order goes on
    FAILED = "failed"  # declined: the donor may try again or cancel (the order waits)
    CAPTURED = "captured"  # taken at settlement
    RELEASED = "released"  # the hold was cancelled (refund before settlement, or never needed)
    CANCELLED = "cancelled"  # the provider cancelled it before any hold (expiry, abandoned link)


OPEN = (CardStatus.CREATED, CardStatus.FAILED)  # still waiting for a hold

# How long a payment page stays open. Stripe lets a Checkout Session live 30 minutes to 24 hours;
# one minute over the least, so that the page outlives the request that made it. Until then the
# order is not stale: the donor may be typing their card number.
CHECKOUT_MINUTES = 31


@dataclass(frozen=True)
class CardPayment:
    """One card payment (one PaymentIntent) for one order."""

    id: int
    order_id: int
    person_id: int
    attempt: int  # 1, 2, … per order: the idempotency key of its creation
    item_id: int  # the meal chosen when the link was made
    tip: int
    order_total: int  # paise the escrow receives (meal + fee + tip)
    fee: int  # paise of processor fee the donor pays on top (0 when the cooperative bears it)
    reserve: int  # paise of estimated fee kept in the hold until capture (from the donor or fund:infra)
    status: CardStatus
    intent: str = ""  # the provider's payment id
    url: str = ""  # where the donor pays
    created_at: str = ""
    authorised_at: str | None = None
    captured: int = 0  # paise captured
    refunded: int = 0  # paise refunded after capture
    actual_fee: int | None = None  # what the provider kept, once known
    flagged: bool = False  # an ageing hold was reported to the admins
    version: int = 0
    campaign_id: int | None = None  # a gift to this campaign (its order is the campaign's order)
    anonymous: bool = False  # that gift shown to others as "Someone"

    @property
    def charge(self) -> int:
        """What the card is asked for: the order's total and, when the donor bears it, the fee."""
        return self.order_total + self.fee

    def page_open(self, now: datetime) -> bool:
        """Whether the donor may still pay on the page: waiting for a hold, and not yet expired."""
        if self.status not in OPEN or not self.created_at:
            return False
        return datetime.fromisoformat(self.created_at) + timedelta(minutes=CHECKOUT_MINUTES) > now

    @property
    def ref(self) -> str:
        """Our name for it at the provider (metadata and idempotency keys)."""
        return f"order:{self.order_id}:card:{self.attempt}"


def processor_fee(amount: int, fee_bp: int, fixed: int) -> int:
    """The processor's fee on a charge of `amount` paise (percentage rounded half up, plus fixed)."""
    return (amount * fee_bp + BP // 2) // BP + fixed if amount > 0 else 0


def gross_up(total: int, fee_bp: int, fixed: int) -> int:
    """The smallest fee f such that charging total + f leaves at least `total` after the fee."""
    if total <= 0:
        return 0
    # f ≥ fee(total + f) and fee(x) ≥ x·bp/BP − ½ + fixed, so f ≥ (total·bp + fixed·BP − BP/2)/(BP − bp):
    # start just below that bound and step up (f − fee(total + f) never decreases as f grows).
    fee = max(0, (total * fee_bp + fixed * BP - BP) // (BP - fee_bp) - 1)
    while fee < processor_fee(total + fee, fee_bp, fixed):
        fee += 1
    return fee


@dataclass(frozen=True)
class Checkout:
    """A payment created at the provider and the page where the donor pays it."""

    intent: str  # "" when the provider creates the payment only once the page is used
    url: str


@dataclass(frozen=True)
class IntentState:
    """What the provider says about one payment (amounts in paise)."""

    intent: str
    status: str  # the provider's word: requires_capture, succeeded, canceled, …
    amount: int
    capturable: int
    received: int
    refunded: int = 0
    fee: int | None = None  # the processor's fee from the balance transaction, when reported
