"""Domain events: past-tense facts, each appended to the hash-chained event log."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event; `actor` is who caused it ("person:3", "system", "scheduler")."""

    type: ClassVar[str] = "event"
    actor: str = "system"

    def data(self) -> dict[str, Any]:
        """Return the event's payload (everything but the actor) as plain JSON values."""
        out = dataclasses.asdict(self)
        out.pop("actor")
        return out


@dataclass(frozen=True, kw_only=True)
class OrderTransitioned(DomainEvent):
    """An order moved from one status to another by a named transition."""

    type: ClassVar[str] = "order.transitioned"
    order_id: int
    transition: str
    from_status: str
    to_status: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OrderReady(DomainEvent):
    """The restaurant marked the meal ready for pickup."""

    type: ClassVar[str] = "order.ready"
    order_id: int
    restaurant_id: int


@dataclass(frozen=True, kw_only=True)
class LedgerTransactionRecorded(DomainEvent):
    """A balanced set of postings was written to the ledger."""

    type: ClassVar[str] = "ledger.transaction"
    tx_id: int
    kind: str
    ref: str
    postings: list[list[Any]]  # [[account, amount_paise], ...] in posting order


@dataclass(frozen=True, kw_only=True)
class CapacityChanged(DomainEvent):
    """A restaurant's daily alms capacity was reserved, released or completed."""

    type: ClassVar[str] = "capacity.changed"
    restaurant_id: int
    day: str
    change: str  # reserve | release | complete
    order_id: int
    used: int
    pledged: int


@dataclass(frozen=True, kw_only=True)
class RestaurantOfferChanged(DomainEvent):
    """A restaurant changed what it offers: its daily alms capacity or its alms menu."""

    type: ClassVar[str] = "restaurant.offer_changed"
    restaurant_id: int
    what: str  # daily_capacity | menu
    before: Any
    after: Any


@dataclass(frozen=True, kw_only=True)
class ParameterChanged(DomainEvent):
    """A governed parameter took a new value."""

    type: ClassVar[str] = "parameter.changed"
    name: str
    old: int | None
    new: int
    source: str  # setup | proposal:<id>


@dataclass(frozen=True, kw_only=True)
class RoleApplied(DomainEvent):
    """Someone applied to act as a restaurant or a worker."""

    type: ClassVar[str] = "role.applied"
    person_id: int
    role: str
    entity_id: int


@dataclass(frozen=True, kw_only=True)
class RoleDecided(DomainEvent):
    """An admin approved or rejected an application."""

    type: ClassVar[str] = "role.decided"
    person_id: int
    role: str
    entity_id: int
    approved: bool


@dataclass(frozen=True, kw_only=True)
class TopUpShortfall(DomainEvent):
    """The guarantee pool could not cover the full daily minimum top-ups of a day."""

    type: ClassVar[str] = "topup.shortfall"
    day: str
    needed: int
    paid: int
    worker_ids: list[int]


@dataclass(frozen=True, kw_only=True)
class PhotosDeleted(DomainEvent):
    """Seeker or delivery photos were deleted (retention passed, or consent was refused)."""

    type: ClassVar[str] = "photos.deleted"
    count: int
    reason: str  # retention | no_consent | replaced | unrecorded (bytes left by a rolled-back write)


@dataclass(frozen=True, kw_only=True)
class EmbeddingsPurged(DomainEvent):
    """Face embeddings past the duplicate window were deleted."""

    type: ClassVar[str] = "embeddings.purged"
    count: int


@dataclass(frozen=True, kw_only=True)
class CapacityMismatch(DomainEvent):
    """Daily reconciliation found a capacity counter that disagrees with the orders."""

    type: ClassVar[str] = "capacity.mismatch"
    restaurant_id: int
    day: str
    counter: int
    orders: int


@dataclass(frozen=True, kw_only=True)
class AdminsChanged(DomainEvent):
    """Admin rights were given or taken at start-up, following KETPAAR_ADMINS."""

    type: ClassVar[str] = "admins.changed"
    added: list[int]  # person ids
    removed: list[int]


@dataclass(frozen=True, kw_only=True)
class AdminSignedIn(DomainEvent):
    """An admin signed in to the web chat with a one-time link."""

    type: ClassVar[str] = "admin.signed_in"
    channel: str


@dataclass(frozen=True, kw_only=True)
class IdentityLinked(DomainEvent):
    """A second channel identity now leads to the same person (no address is recorded)."""

    type: ClassVar[str] = "identity.linked"
    person_id: int
    channel: str
    retired_person_id: int


@dataclass(frozen=True, kw_only=True)
class DepositRequested(DomainEvent):
    """An admin asked for a deposit above the limit; a second admin must confirm it."""

    type: ClassVar[str] = "deposit.requested"
    request_id: int
    person_id: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class DepositDecided(DomainEvent):
    """A second admin confirmed or refused a large deposit another admin asked for."""

    type: ClassVar[str] = "deposit.decided"
    request_id: int
    person_id: int
    amount: int
    requested_by: str
    recorded: bool


@dataclass(frozen=True, kw_only=True)
class WorkerAvailabilityChanged(DomainEvent):
    """A worker went online (new jobs are pushed to them) or offline."""

    type: ClassVar[str] = "worker.availability_changed"
    worker_id: int
    online: bool


@dataclass(frozen=True, kw_only=True)
class WorkerZoneChanged(DomainEvent):
    """A worker moved the zone they see jobs around (the geohash cell only, not the exact place)."""

    type: ClassVar[str] = "worker.zone_changed"
    worker_id: int
    before: str
    after: str


@dataclass(frozen=True, kw_only=True)
class DeliveryReported(DomainEvent):
    """A worker's one-tap report after a delivery (it trains the location safety model)."""

    type: ClassVar[str] = "delivery.reported"
    order_id: int
    worker_id: int
    went_well: bool
    safety_issue: bool


@dataclass(frozen=True, kw_only=True)
class JobOffersWithdrawn(DomainEvent):
    """Job offers not yet sent were taken back: the job was claimed or cancelled meanwhile."""

    type: ClassVar[str] = "job.offers_withdrawn"
    order_id: int
    count: int


@dataclass(frozen=True, kw_only=True)
class LanguageChosen(DomainEvent):
    """Someone chose the language every later message to them is written in."""

    type: ClassVar[str] = "person.language_chosen"
    person_id: int
    language: str


@dataclass(frozen=True, kw_only=True)
class PersonNamed(DomainEvent):
    """Someone gave the name others see (the name itself stays out of the permanent chain)."""

    type: ClassVar[str] = "person.named"
    person_id: int


@dataclass(frozen=True, kw_only=True)
class PhotoStored(DomainEvent):
    """A cleaned photo was stored: a seeker's (for screening) or a delivery proof."""

    type: ClassVar[str] = "photo.stored"
    kind: str  # seeker | delivery
    owner_id: int


@dataclass(frozen=True, kw_only=True)
class OrderTimedOut(DomainEvent):
    """An order waited too long at a stage (core/orders/timeouts.py), or someone answered the
    question a timeout asked: `stage` says which."""

    type: ClassVar[str] = "order.timed_out"
    order_id: int
    stage: str  # restaurant | widen | give_up | kept_waiting | pickup_ask | coming | pickup_release | delivery
    minutes: int = 0  # how long the order had waited in its status
    round: int = 1  # the give-up question comes again: which time this is
    restaurant_id: int | None = None  # the restaurant that did not answer
    worker_id: int | None = None  # the worker asked or released


@dataclass(frozen=True, kw_only=True)
class CheckpointSigned(DomainEvent):
    """The day's checkpoint of the chain was signed and published (it covers events up to `seq`)."""

    type: ClassVar[str] = "checkpoint.signed"
    day: str
    seq: int
    head: str


@dataclass(frozen=True, kw_only=True)
class DisputeRaised(DomainEvent):
    """A party to a delivered order said it went wrong; its escrow is frozen."""

    type: ClassVar[str] = "dispute.raised"
    dispute_id: int
    order_id: int
    person_id: int
    reason: str  # not_delivered | wrong_person | bad_food | unsafe | other
    # The party's own words stay in the disputes table: free text may name people, and the chain
    # is permanent (as with PersonNamed).
    has_evidence: bool = False


@dataclass(frozen=True, kw_only=True)
class DisputeResolved(DomainEvent):
    """An admin decided a dispute (`appeal` when it was the decision on an appeal); `tx_ids` are the
    ledger transactions it recorded (reversals of the earlier decision first)."""

    type: ClassVar[str] = "dispute.resolved"
    dispute_id: int
    order_id: int
    resolution: str  # settle | refund | split_meal | split_fee
    # What the admin typed may name people, so the chain holds only a salted commitment to it
    # (core/ledger/commitments.py); the words stay in the disputes table, the salt in
    # commitment_salts under "dispute:<id>:note" (or ":appeal_note").
    reason_commit: str
    tx_ids: list[int]
    appeal: bool = False
    source: str = ""  # for an appeal: "admin:<person id>" or "proposal:<id>" (the members' vote)


@dataclass(frozen=True, kw_only=True)
class AppealPutToVote(DomainEvent):
    """A party appealed a dispute's decision and no second admin could decide it: the members
    vote (proposal `proposal_id`) on changing the outcome `decided` to `asked` (no seconds needed)."""

    type: ClassVar[str] = "dispute.put_to_vote"
    dispute_id: int
    order_id: int
    person_id: int
    proposal_id: int
    decided: str  # the resolution in force
    asked: str  # the resolution the appealing party asks the members for


@dataclass(frozen=True, kw_only=True)
class DisputeShortfallCovered(DomainEvent):
    """Reversing a decision on appeal could not take back money already spent (a refund spent, a
    payout made): the guarantee pool put the missing paise back into the escrow (`tx_id`).
    `accounts` are [[account, paise missing]]; what the appeal's decision later gives those
    accounts repays the pool first."""

    type: ClassVar[str] = "dispute.shortfall_covered"
    dispute_id: int
    order_id: int
    tx_id: int
    amount: int
    accounts: list[list[Any]]


@dataclass(frozen=True, kw_only=True)
class DisputeAppealed(DomainEvent):
    """A party appealed a dispute's resolution; a different admin decides it."""

    type: ClassVar[str] = "dispute.appealed"
    dispute_id: int
    order_id: int
    person_id: int


@dataclass(frozen=True, kw_only=True)
class PledgeChanged(DomainEvent):
    """A donor's money pledge was made, paused, resumed, cancelled or renewed (its money moves
    are ledger transactions of their own; the pledge's place stays off the chain)."""

    type: ClassVar[str] = "pledge.changed"
    pledge_id: int
    person_id: int
    change: str  # made | paused | resumed | cancelled | renewed | renewal_failed
    amount: int = 0  # paise moved by this change (made, renewed, cancelled), else 0
    kind: str = ""  # general | location | time | location_time
    auto_renew: bool = False


@dataclass(frozen=True, kw_only=True)
class PledgeUsed(DomainEvent):
    """Pledges paid part of an order's escrow: [[pledge_id, paise], ...] in allocation order."""

    type: ClassVar[str] = "pledge.used"
    order_id: int
    uses: list[list[int]]


@dataclass(frozen=True, kw_only=True)
class PledgeDigest(DomainEvent):
    """Once a day per pledge: what it paid for that day (told to its donor)."""

    type: ClassVar[str] = "pledge.digest"
    pledge_id: int
    person_id: int
    day: str
    meals: int
    amount: int
    area: str  # about a kilometre: never the seekers' exact places
    remaining: int


@dataclass(frozen=True, kw_only=True)
class PledgeNews(DomainEvent):
    """Soon after its uses (at most one a few minutes): what a pledge whose donor asked to hear of
    every use just paid for (told to its donor)."""

    type: ClassVar[str] = "pledge.news"
    pledge_id: int
    person_id: int
    upto_use_id: int  # the newest use told of
    meals: int
    amount: int
    area: str  # about a kilometre: never the seekers' exact places
    remaining: int


@dataclass(frozen=True, kw_only=True)
class TopUpRequested(DomainEvent):
    """A donor asked for a UPI link to top up their balance."""

    type: ClassVar[str] = "topup.requested"
    person_id: int
    reference: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class StatementRowImported(DomainEvent):
    """A credit line of the bank statement was imported (credited, flagged or left unmatched)."""

    type: ClassVar[str] = "statement.row"
    txn_id: str
    status: str
    amount: int
    reference: str | None
    person_id: int | None
    flag: str = ""  # why a credited row needs a look: amount_differs | paid_again


@dataclass(frozen=True, kw_only=True)
class StatementRowAssigned(DomainEvent):
    """The treasurer credited an unmatched statement row to a person."""

    type: ClassVar[str] = "statement.assigned"
    txn_id: str
    person_id: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class PayoutDetailsChanged(DomainEvent):
    """A restaurant or worker said where their payouts go (only the masked form is logged)."""

    type: ClassVar[str] = "payout.details"
    person_id: int
    method: str
    masked: str
    replaced: bool


@dataclass(frozen=True, kw_only=True)
class PayoutBatchCreated(DomainEvent):
    """The daily payout run moved settled balances out and wrote a batch for the bank."""

    type: ClassVar[str] = "payout.batch"
    batch_id: int
    day: str
    lines: int
    total: int


@dataclass(frozen=True, kw_only=True)
class PayoutSkipped(DomainEvent):
    """Someone's balance was due a payout but they have no payout details."""

    type: ClassVar[str] = "payout.skipped"
    person_id: int
    account: str
    amount: int
    told: bool = True  # told at this run (once, then again only when the amount grew or a week passed)


@dataclass(frozen=True, kw_only=True)
class PayoutWaiting(DomainEvent):
    """Someone's balance was due a payout by Stripe, but their connected account cannot receive
    transfers yet: the money stays on their balance (no line, nothing failed)."""

    type: ClassVar[str] = "payout.waiting"
    person_id: int
    account: str
    amount: int
    missing: str  # details (onboarding not finished) | review (Stripe has not enabled payouts yet)
    told: bool = True  # told at this run (once for each thing missing)


@dataclass(frozen=True, kw_only=True)
class ConnectAccountUpdated(DomainEvent):
    """Stripe said whether a payee's connected account can receive transfers (account.updated)."""

    type: ClassVar[str] = "payout.connect_account"
    person_id: int | None  # None: an account no payee uses (any more)
    ready: bool
    missing: str
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    transfers_active: bool = False


@dataclass(frozen=True, kw_only=True)
class PayoutUnclaimed(DomainEvent):
    """A payout line came back for someone who has used /forget: nobody can be paid it again, so
    it went to the guarantee pool (like the balance given at /forget) and the admins were told."""

    type: ClassVar[str] = "payout.unclaimed"
    batch_id: int
    line_id: int
    account: str
    amount: int
    to: str  # the ledger account that took it (pool:guarantee)


@dataclass(frozen=True, kw_only=True)
class PayoutBatchPaid(DomainEvent):
    """The treasurer confirmed the bank paid a batch."""

    type: ClassVar[str] = "payout.paid"
    batch_id: int
    bank_ref: str


@dataclass(frozen=True, kw_only=True)
class PayoutLineTransferred(DomainEvent):
    """A payout line paid by a Stripe Connect transfer to the payee's connected account."""

    type: ClassVar[str] = "payout.transferred"
    batch_id: int
    line_id: int
    account: str
    amount: int
    transfer: str  # the provider's transfer id


@dataclass(frozen=True, kw_only=True)
class PayoutLineFailed(DomainEvent):
    """The bank returned one payout line: its money went back to the payee's balance."""

    type: ClassVar[str] = "payout.failed"
    batch_id: int
    line_id: int
    account: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class PersonErased(DomainEvent):
    """Someone used /forget: their personal data was erased (ids and counts only; their ledger
    postings stay under the pseudonymous account ids, so the books still balance)."""

    type: ClassVar[str] = "person.erased"
    person_id: int
    counts: dict[str, int]  # what was erased or rounded, by kind (identities, messages, photos, …)
    donated: int = 0  # paise of the donor balance given to the guarantee pool with their consent


@dataclass(frozen=True, kw_only=True)
class PersonDataExported(DomainEvent):
    """Someone downloaded everything the service holds about them (/mydata)."""

    type: ClassVar[str] = "person.data_exported"
    person_id: int


@dataclass(frozen=True, kw_only=True)
class RetentionApplied(DomainEvent):
    """A retention job ran: how many rows it rounded or deleted, by kind, and the cut-off times."""

    type: ClassVar[str] = "retention.applied"
    counts: dict[str, int]  # order_coordinates | messages | farewells | web_sessions
    before: dict[str, str]  # the cut-off time of each kind


@dataclass(frozen=True, kw_only=True)
class PhotoViewed(DomainEvent):
    """An admin saw a photo of an order for an operation they perform (a dispute)."""

    type: ClassVar[str] = "photo.viewed"
    order_id: int
    kind: str  # seeker | delivery
    purpose: str  # dispute


@dataclass(frozen=True, kw_only=True)
class CardPaymentChanged(DomainEvent):
    """A card payment moved to a new state (core/payments/cards.py): link created, authorised,
    failed, captured, released, refunded, or flagged to an admin as an ageing hold."""

    type: ClassVar[str] = "card.payment"
    payment_id: int
    order_id: int
    intent: str  # the provider's payment id ("pi_…"), "" until the provider named it
    state: str  # created | authorised | failed | captured | released | refunded | flagged | unused
    amount: int  # paise this state is about (held, captured, released or refunded)
    fee: int = 0  # paise of processor fee (estimated at creation, actual at capture)
    event_id: str = ""  # the provider's webhook event that caused it, when one did
    reason: str = ""  # failed: the provider's decline code; unused: why the hold was not needed


@dataclass(frozen=True, kw_only=True)
class MemberJoined(DomainEvent):
    """A donor joined the cooperative, accepting its rules (and paying the governed fee, if any)."""

    type: ClassVar[str] = "member.joined"
    person_id: int
    fee: int  # paise


@dataclass(frozen=True, kw_only=True)
class MemberLeft(DomainEvent):
    """A member left the cooperative: they no longer propose or vote."""

    type: ClassVar[str] = "member.left"
    person_id: int


@dataclass(frozen=True, kw_only=True)
class ProposalMade(DomainEvent):
    """A member proposed a change of governed parameters, or a text decision (`changes` empty).

    The reason and decision texts stay in the proposals table (free text may name people); the
    chain keeps a salted commitment to them (the salt stays off the chain too)."""

    type: ClassVar[str] = "proposal.made"
    proposal_id: int
    person_id: int
    changes: dict[str, int]
    reason_commit: str  # salted commitment to the decision and reason (core/ledger/commitments.py)
    seconds_needed: int


@dataclass(frozen=True, kw_only=True)
class ProposalSeconded(DomainEvent):
    """Another member seconded a proposal."""

    type: ClassVar[str] = "proposal.seconded"
    proposal_id: int
    person_id: int
    seconds: int


@dataclass(frozen=True, kw_only=True)
class ProposalOpened(DomainEvent):
    """A proposal opened for voting, with the rules it will be decided by."""

    type: ClassVar[str] = "proposal.opened"
    proposal_id: int
    members: int
    quorum_bp: int
    majority_bp: int
    closes_at: str


@dataclass(frozen=True, kw_only=True)
class VoteCast(DomainEvent):
    """A member voted (votes are not secret in the cooperative's books); a later vote replaces the earlier."""

    type: ClassVar[str] = "proposal.vote"
    proposal_id: int
    person_id: int
    choice: str  # yes | no | abstain | withdrawn
    channel: str
    replaced: str | None = None


@dataclass(frozen=True, kw_only=True)
class ProposalClosed(DomainEvent):
    """A proposal was decided at close (or lapsed without enough seconds)."""

    type: ClassVar[str] = "proposal.closed"
    proposal_id: int
    outcome: str  # passed | rejected | lapsed
    yes: int
    no: int
    abstain: int
    members: int
    why: str = ""  # quorum | majority | rules (a change of the voting rules missing the current ones) | seconds


@dataclass(frozen=True, kw_only=True)
class ProposalExecuted(DomainEvent):
    """A passed proposal's parameter changes were applied (each also a parameter.changed event)."""

    type: ClassVar[str] = "proposal.executed"
    proposal_id: int
    changes: dict[str, int]
    applied: bool = True  # False: the parameters moved meanwhile so that it no longer fits
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class RatingGiven(DomainEvent):
    """A party rated one aspect of a settled order (1-5); the rated person sees only averages."""

    type: ClassVar[str] = "rating.given"
    rating_id: int
    order_id: int
    aspect: str  # meal | delivery | pickup
    subject: str  # restaurant | worker
    subject_id: int
    stars: int


@dataclass(frozen=True, kw_only=True)
class RatingCommented(DomainEvent):
    """The rater added a comment to their rating: the chain holds only a salted commitment to the words
    (salt in commitment_salts under "rating:<id>:comment"), so /forget can make it untestable."""

    type: ClassVar[str] = "rating.commented"
    rating_id: int
    comment_commit: str


@dataclass(frozen=True, kw_only=True)
class RatingAppealed(DomainEvent):
    """The rated person appealed a rating (their words stay in the ratings table)."""

    type: ClassVar[str] = "rating.appealed"
    rating_id: int


@dataclass(frozen=True, kw_only=True)
class RatingDecided(DomainEvent):
    """An admin who is no party decided an appeal: the rating withdrawn or kept."""

    type: ClassVar[str] = "rating.decided"
    rating_id: int
    withdrawn: bool


@dataclass(frozen=True, kw_only=True)
class CampaignTransitioned(DomainEvent):
    """A campaign moved from one status to another by a named transition."""

    type: ClassVar[str] = "campaign.transitioned"
    campaign_id: int
    transition: str
    from_status: str
    to_status: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CampaignGiven(DomainEvent):
    """Someone contributed to a campaign (the ledger transaction records the money)."""

    type: ClassVar[str] = "campaign.given"
    campaign_id: int
    seq: int
    person_id: int
    amount: int  # paise
    anonymous: bool  # shown to others without a name
    raised: int  # paise given in all after this gift
    target: int


@dataclass(frozen=True, kw_only=True)
class FaceChecked(DomainEvent):
    """A step of the two-stage duplicate check that people should be able to count (issue 18):
    a second photo asked for, what it decided, or a donor answering for the check. Ids and
    scores only, never a photo or an embedding."""

    type: ClassVar[str] = "face.checked"
    order_id: int
    # second_photo_asked | duplicate | goes_on (after a second photo) | no_second_photo |
    # someone_else (the last two: the order goes on marked for admin review)
    outcome: str
    duplicate_of_order: int | None = None
    similarity_bp: int | None = None
    second_similarity_bp: int | None = None
    contested_order: int | None = None  # someone_else: the refused order the donor contested


@dataclass(frozen=True, kw_only=True)
class AppealVoteWaitsForPool(DomainEvent):
    """The members voted to change a dispute decision, but the guarantee pool cannot yet cover the
    money the change needs: nothing is applied until it can (recorded once, when the admins are told)."""

    type: ClassVar[str] = "dispute.vote_waits_for_pool"
    proposal_id: int
    dispute_id: int
    short: int  # paise the pool lacks
