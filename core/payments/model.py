"""Payment values: UPI top-up requests, statement rows, payout details, batches and lines."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

# A reference is "KP" and 8 characters of Crockford's base 32 (no I, L, O, U: nothing to misread
# when a donor types it into a UPI app's note by hand).
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_PREFIX = "KP"
REFERENCE = re.compile(rf"{REF_PREFIX}[{REF_ALPHABET}]{{8}}")
# In a narration banks upper-case, cut and glue words: find the reference anywhere, bounded by
# anything that is not a reference character.
REFERENCE_IN_TEXT = re.compile(rf"(?<![0-9A-Z])({REF_PREFIX}[{REF_ALPHABET}]{{8}})(?![0-9A-Z])")

# NPCI virtual payment address: a handle, "@", a provider (e.g. name.1@okaxis).
VPA = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}@[a-z][a-z0-9]{1,31}")
ACCOUNT_NUMBER = re.compile(r"[0-9]{9,18}")
# IFSC: four letters (the bank), a zero, six letters or digits (the branch).
IFSC = re.compile(r"[A-Z]{4}0[A-Z0-9]{6}")


def new_reference() -> str:
    """A fresh random top-up reference, e.g. KP7H3K9Q2M."""
    return REF_PREFIX + "".join(secrets.choice(REF_ALPHABET) for _ in range(8))


def find_reference(narration: str) -> str | None:
    """The first top-up reference in a bank narration, if any."""
    found = REFERENCE_IN_TEXT.search(narration.upper())
    return found.group(1) if found else None


class Method(StrEnum):
    """How a payee is paid."""

    UPI = "upi"
    BANK = "bank"  # account number + IFSC (NEFT/IMPS)
    STRIPE = "stripe"  # a Stripe Connect account (acct_…), paid by transfer where KETPAAR_STRIPE_CONNECT is on


class InvalidDetails(ValueError):
    """Payout details that do not parse; `reason` is vpa | account | ifsc | shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PayoutDetails:
    """Where one person's payouts go."""

    person_id: int
    method: Method
    destination: str  # a UPI id, or an account number
    ifsc: str = ""  # only for a bank account

    def masked(self) -> str:
        """What chat shows: enough to recognise, too little to reuse (n***h@okaxis, XXXXXX1234 · HDFC0001234)."""
        if self.method is Method.STRIPE:
            return f"Stripe ({self.destination[:5]}…{self.destination[-4:]})" if self.destination else "Stripe"
        if self.method is Method.UPI:
            handle, provider = self.destination.split("@", 1)
            return f"{handle[0]}***{handle[-1] if len(handle) > 1 else ''}@{provider}"
        return f"XXXXXX{self.destination[-4:]} · {self.ifsc}"


def parse_details(person_id: int, text: str) -> PayoutDetails:
    """Read "name@okaxis" or "<account number> <IFSC>" typed in chat; raise InvalidDetails."""
    words = text.replace(",", " ").split()
    if len(words) == 1 and "@" in words[0]:
        vpa = words[0].lower()
        if not VPA.fullmatch(vpa):
            raise InvalidDetails("vpa")
        return PayoutDetails(person_id, Method.UPI, vpa)
    if len(words) == 2:
        account, ifsc = words[0], words[1].upper()
        if not ACCOUNT_NUMBER.fullmatch(account):
            raise InvalidDetails("account")
        if not IFSC.fullmatch(ifsc):
            raise InvalidDetails("ifsc")
        return PayoutDetails(person_id, Method.BANK, account, ifsc)
    raise InvalidDetails("shape")


@dataclass(frozen=True)
class TopUpRequest:
    """A donor's request to top up by UPI, matched later by its reference."""

    id: int
    reference: str
    person_id: int
    amount: int  # paise asked for
    created_at: str


class RowStatus(StrEnum):
    """What became of one imported statement row."""

    CREDITED = "credited"  # matched a request, the amount as asked
    FLAGGED = "flagged"  # matched and credited as paid, but the amount differed or was paid twice
    UNMATCHED = "unmatched"  # waiting for the treasurer to assign it
    ASSIGNED = "assigned"  # credited by the treasurer's assignment


@dataclass(frozen=True)
class StatementRow:
    """One credit line of a bank statement, as stored after import."""

    id: int
    txn_id: str
    date: str
    amount: int
    reference: str | None
    status: RowStatus
    person_id: int | None
    note: str = ""


class LineStatus(StrEnum):
    """Where one payout line stands."""

    PENDING = "pending"  # in a batch, money moved to external:payouts, bank not yet confirmed
    PAID = "paid"
    FAILED = "failed"  # the bank returned it: reversed, paid again at a later run


@dataclass(frozen=True)
class PayoutLine:
    """One person's payout in a batch."""

    id: int
    batch_id: int
    account: str  # ledger account: worker:<id> or restaurant:<id>
    person_id: int
    name: str
    method: Method
    destination: str
    ifsc: str
    amount: int
    status: LineStatus

    @property
    def reference(self) -> str:
        """The reference written on the bank transfer."""
        return f"KETPAAR-B{self.batch_id}-L{self.id}"


@dataclass(frozen=True)
class PayoutBatch:
    """One day's payouts."""

    id: int
    day: str
    created_at: str
    bank_ref: str | None
    paid_at: str | None


class Missing(StrEnum):
    """What keeps a Stripe connected account from receiving transfers."""

    NONE = ""  # ready: transfers and payouts enabled
    DETAILS = "details"  # the payee has not finished Stripe's onboarding form
    REVIEW = "review"  # the form is in, but Stripe has not enabled payouts yet (checks, a document due)


@dataclass(frozen=True)
class ConnectState:
    """What Stripe last said about one connected account (its account.updated webhook)."""

    account: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    transfers_active: bool  # the `transfers` capability is active
    created: int = 0  # the event's time (seconds): an older event never overwrites a newer one

    @property
    def missing(self) -> Missing:
        """What the payee still has to do (or wait for) before a transfer can reach them."""
        if not self.details_submitted:
            return Missing.DETAILS
        if not (self.payouts_enabled and self.transfers_active):
            return Missing.REVIEW
        return Missing.NONE

    @property
    def ready(self) -> bool:
        """Whether a transfer to this account can go now."""
        return self.missing is Missing.NONE
