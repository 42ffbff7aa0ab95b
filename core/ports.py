"""Ports: what the domain, the flows and the channels need from storage and the outside world.

Services, flows and the bus are written against these Protocols; the SQLAlchemy adapter
(core/adapters/sql) and the Redis board (core/adapters/redis) implement them, and the composition
root (webhooks/runtime.py) is the one place that picks the implementations. mypy checks the
adapters against them wherever the runtime passes an adapter as a port."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.board.base import JobBoard
from core.governance.model import Proposal
from core.ledger.chain import ChainedEvent, ChainFold, HashedRow, StoredColumns
from core.ledger.model import DepositRequest, DepositStatus, Transaction
from core.ledger.params import Params
from core.members.model import Approval, LinkCodeRow, Person, Restaurant, SessionRow, Worker
from core.orders.lifecycle import Status
from core.orders.model import Order
from core.payments.model import Method, PayoutBatch, PayoutDetails, PayoutLine, RowStatus, StatementRow, TopUpRequest
from core.prompts.model import Prompt
from core.ratings.model import Rating
from core.seekers.screening import Candidate, Screener
from core.shared.clock import Clock
from core.shared.events import DomainEvent
from core.shared.messaging import ClaimedInbound, NewInbound, OutboxRow
from core.shared.queues import InboxStatus

if TYPE_CHECKING:
    import numpy as np

    from core.campaigns.model import Campaign, Gift, Place
    from core.funding.pledge_model import Pledge, PledgePick, PledgeStatus, PledgeTerms, PledgeUse
    from core.orders.dispute_model import Dispute
    from core.orders.funding import Contribution, Source
    from core.payments.card_model import CardPayment, CardStatus, Checkout, IntentState

__all__ = ["JobBoard", "PaymentGateway", "PhotoStore", "Screener", "Store", "UnitOfWork"]

AfterCommit = Callable[[], Awaitable[None]]


class PeopleRepo(Protocol):
    """People by id or by any of their channel identities."""

    async def get(self, person_id: int) -> Person | None:
        """Load one person."""

    async def find(self, channel: str, address: str) -> Person | None:
        """Find someone by any of their channel identities."""

    async def find_many(self, identities: Sequence[tuple[str, str]]) -> list[Person]:
        """Look up the people at these (channel, address) identities at once, for `find` to answer
        without asking again in this unit of work (a batch of messages from different people);
        returns those found."""

    async def get_or_create(self, channel: str, address: str, *, language: str = "en") -> Person:
        """Return the person at this identity, creating them on first contact."""

    async def add_identity(self, person_id: int, channel: str, address: str) -> None:
        """Reach a person at one more identity (unchanged if that identity is already someone's)."""

    async def identities_of(self, person_id: int) -> list[tuple[str, str]]:
        """Every (channel, address) the person is reached at."""

    async def move_identity(self, channel: str, address: str, to_person: int) -> None:
        """Make an identity lead to another person (linking channels)."""

    async def set_home(self, person_id: int, channel: str, address: str) -> None:
        """Set where notifications reach the person."""

    async def retire(self, person_id: int) -> None:
        """Mark a person row left empty by a link: it has no identity and receives nothing."""

    async def set_name(self, person_id: int, name: str) -> None:
        """Change the name others see."""

    async def set_language(self, person_id: int, language: str) -> None:
        """Change the language messages are written in."""

    async def set_flags(self, person_id: int, *, is_admin: bool | None = None, is_member: bool | None = None) -> None:
        """Give or take admin rights or cooperative membership (None leaves a flag as it is)."""

    async def admins(self) -> list[Person]:
        """Everyone who approves applications."""

    async def members(self) -> list[Person]:
        """Every member of the cooperative (they propose and vote), by id."""

    async def set_admins(self, person_ids: Collection[int]) -> tuple[list[int], list[int]]:
        """Make exactly these people admins; return (added, removed) person ids."""



class RestaurantRepo(Protocol):
    """Restaurants, their alms menus and their daily capacity counters."""

    async def create(
        self,
        *,
        person_id: int,
        name: str,
        address: str,
        lat: float,
        lng: float,
        zone: str,
        daily_capacity: int,
        menu: Sequence[tuple[str, int]],
        open_minute: int = 0,
        close_minute: int = 1440,
        status: Approval = Approval.PENDING,
    ) -> Restaurant:
        """Register a restaurant with its menu."""

    async def get(self, restaurant_id: int) -> Restaurant | None:
        """Load one restaurant with its menu."""

    async def by_person(self, person_id: int) -> Restaurant | None:
        """The restaurant a person runs, if any."""

    async def approved(self) -> list[Restaurant]:
        """Every approved restaurant."""

    async def set_status(self, restaurant_id: int, status: Approval) -> None:
        """Approve or reject."""

    async def set_daily_capacity(self, restaurant_id: int, meals: int, day: str) -> None:
        """Pledge `meals` a day from now on, today's counter included.
        
        Meals already taken today stay taken: a pledge below them only stops new orders."""

    async def replace_menu(self, restaurant_id: int, menu: Sequence[tuple[str, int]]) -> None:
        """Retire the current alms menu and offer `menu` instead (old items stay for the record)."""

    async def open_day(self, restaurant_id: int, day: str) -> None:
        """Create the day's capacity counter if it does not exist yet."""

    async def remaining(self, restaurant_id: int, day: str) -> int:
        """Meals still available for the day."""

    async def reserve(self, restaurant_id: int, day: str, order_id: int) -> bool:
        """Take one unit of the day's capacity if any is left (one conditional UPDATE)."""

    async def release(self, restaurant_id: int, day: str, order_id: int) -> None:
        """Give back a reserved unit (reject, cancel)."""

    async def complete(self, restaurant_id: int, day: str, order_id: int) -> None:
        """Turn a reserved unit into a delivered one."""

    async def counters(self, day: str) -> list[tuple[int, int, int, int]]:
        """(restaurant_id, pledged, reserved, completed) for every counter of a day."""

    async def used(self, restaurant_id: int, day: str) -> int:
        """Reserved plus completed units for the day."""



class WorkerRepo(Protocol):
    """Delivery workers, their zones and whether they are online."""

    async def create(
        self, *, person_id: int, name: str, lat: float, lng: float, zone: str, status: Approval, online: bool = False
    ) -> Worker:
        """Register a worker."""

    async def get(self, worker_id: int) -> Worker | None:
        """Load one worker."""

    async def by_person(self, person_id: int) -> Worker | None:
        """The worker record of a person, if any."""

    async def set_status(self, worker_id: int, status: Approval, *, online: bool) -> None:
        """Approve or reject, and start (or stop) receiving jobs with it."""

    async def set_online(self, worker_id: int, online: bool) -> None:
        """Start or stop receiving new jobs."""

    async def set_zone(self, worker_id: int, lat: float, lng: float, zone: str) -> None:
        """Move the place the worker sees jobs around."""

    async def online_in(self, zones: Sequence[str]) -> list[Worker]:
        """Approved, online workers whose zone is one of these cells."""



class IdentityRepo(Protocol):
    """Storage for proving who is who."""

    async def add_session(
        self, session_id: str, secret_hash: str, address: str, kind: str, expires_at: str, source: str | None = None
    ) -> None:
        """Store a new web-chat session (with where it was opened, if known)."""

    async def session_source(self, address: str) -> str | None:
        """Where the newest session of a web-chat address was opened; None if unknown."""

    async def session(self, session_id: str) -> SessionRow | None:
        """Load a session by id (valid or not: the caller checks)."""

    async def sessions(self, session_ids: Collection[str]) -> dict[str, SessionRow]:
        """Load several sessions by id in one query (valid or not: the caller checks)."""

    async def revoke_session(self, session_id: str) -> None:
        """End a session (sign-out)."""

    async def use_token(self, nonce: str) -> bool:
        """Spend a single-use token; False if it was spent before."""

    async def add_link_code(self, person_id: int, channel: str, address: str, code_hash: str, expires_at: str) -> None:
        """Store a link code sent to one identity; earlier unused codes of that identity lapse."""

    async def take_link_code(self, code_hash: str) -> LinkCodeRow | None:
        """Find an unexpired, unused code and mark it used (one use only)."""

    async def add_link_failure(self, person_id: int, source: str | None = None) -> None:
        """Count one wrong link code entered by a person (through a session from `source`, if any)."""

    async def link_failures_from(self, source: str, since: str) -> int:
        """Wrong link codes entered through sessions from one source since a time."""

    async def link_failures_since(self, person_id: int | None, since: str) -> int:
        """Wrong link codes a person entered since a time."""

    async def add_deposit_request(self, person_id: int, amount: int, requested_by: int) -> int:
        """Store a deposit that waits for a second admin."""

    async def deposit_request(self, request_id: int) -> DepositRequest | None:
        """Load one deposit request."""

    async def decide_deposit(self, request_id: int, status: DepositStatus, admin_id: int) -> bool:
        """Close a pending request once; False if someone already decided it."""



class OrderRepo(Protocol):
    """Orders; saving hands the aggregate's recorded events to the unit of work."""

    async def add(self, order: Order) -> Order:
        """Insert a new order and give it its id."""

    async def get(self, order_id: int, *, lock: bool = False) -> Order | None:
        """Load an order (row-locked on PostgreSQL when `lock`)."""

    async def due_for_settlement(self, now: str, limit: int = 500) -> list[int]:
        """Delivered or failed orders whose dispute window has passed, oldest first."""

    async def with_photo(self, photo_id: str) -> Order | None:
        """The order a seeker or delivery photo belongs to, if any."""

    async def save(self, order: Order, loaded_version: int) -> None:
        """Write the order back if nobody changed it meanwhile; collect its events."""

    async def find(
        self,
        *,
        donor_id: int | None = None,
        restaurant_id: int | None = None,
        worker_id: int | None = None,
        statuses: Sequence[Status] | None = None,
        limit: int = 50,
    ) -> list[Order]:
        """Orders matching the given filters, newest first."""

    async def in_status_since(self, status: Status, before: str, limit: int = 1000) -> list[Order]:
        """Orders that have been in `status` since `before` or earlier, oldest first."""

    async def held_capacity(self, day: str, statuses: Sequence[Status]) -> dict[int, int]:
        """Per restaurant, how many orders of a capacity day are in the given states."""



class LedgerRepo(Protocol):
    """Balanced transactions in integer paise; balances are sums of postings."""

    async def postings_of(self, tx_id: int) -> list[tuple[str, int]]:
        """The (account, amount) lines of one transaction, in posting order."""

    async def existing(self, kind: str, ref: str) -> int | None:
        """The id of an already recorded transaction with this kind and ref."""

    async def record(self, tx: Transaction, actor: str = "system") -> int:
        """Write a transaction (once per kind+ref) after checking guarded balances; return its id.
        
        The same kind+ref again with the same postings is the same transaction (idempotent);
        with different postings it is a different one under a reused ref: refused loudly."""

    async def record_many(self, txs: Sequence[Transaction], actor: str = "system") -> list[int]:
        """Write several transactions as `record` writes each, in order (in a few round trips);
        return their ids; refused as a whole before anything is written when they overdraw."""

    async def balance(self, account: str, *, lock: bool = False) -> int:
        """Sum of an account's postings in paise; `lock` holds spending from it until commit."""

    async def balances(self, prefix: str = "") -> dict[str, int]:
        """Every account (optionally under a prefix) with its balance."""

    async def credits_on_day(self, prefix: str, day: str, kinds: Sequence[str]) -> dict[str, int]:
        """Per account under `prefix`, the paise credited on a business day by these kinds."""

    def transactions(self) -> AsyncGenerator[tuple[int, str, str, list[list[Any]]], None]:
        """Every transaction with its postings, in id order: (id, kind, ref, [[account, amount]])."""



class ChainRepo(Protocol):
    """The append-only, hash-chained event log."""

    async def append(self, items: Sequence[DomainEvent], occurred_at: str) -> None:
        """Append events after the locked head, in order."""

    async def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest event."""

    def stream(self, batch: int = 5000) -> AsyncIterator[ChainedEvent]:
        """Every stored event in seq order, read in batches."""

    async def page(self, after: int, limit: int) -> list[ChainedEvent]:
        """Up to `limit` stored events with seq > `after`, in seq order."""

    async def fold_hashed(self, fold: Callable[[str], ChainFold], upto: int, *, ranges: int = 0,
                          range_min: int = 200_000) -> list[ChainFold]:  # fmt: skip
        """Chain every stored event's hashed bytes, in seq order, as this transaction sees them,
        off the event loop. The log is cut at seq boundaries below `upto` into at most `ranges`
        parts (0: what suits the backend on this machine; each at least `range_min` events) read and
        hashed at once where the backend allows; each part's fold starts from the stored prev_hash
        of its first event (GENESIS for the first part), and the caller checks each start against
        the head of the part before. The last part runs to the end of the log."""

    async def begin_fold(self, fold: Callable[[str], ChainFold], upto: int, *, ranges: int = 0,
                         range_min: int = 200_000) -> Awaitable[list[ChainFold]]:  # fmt: skip
        """`fold_hashed`, started: when this returns, the fold no longer needs this unit of work's
        connection (it reads on one of its own, or queues its statements behind the fold's), so
        the caller may read on while the hash loop runs; the future ends with the folds."""

    def bodies(self, type_: str, batch: int = 5000) -> AsyncIterator[list[HashedRow]]:
        """The hashed body bytes of every event of one type, in seq order."""

    async def event_rows(self) -> tuple[int, int, int]:
        """(how many rows `events` holds, the lowest and the highest seq among them; 0 when empty):
        with seq unique, (n, 1, n) exactly when the rows are seq 1..n, none missing or extra."""

    async def position(self, n: int) -> tuple[int, str] | None:
        """(seq, prev_hash) of the `n`-th stored event in seq order (1-based), to name what broke."""

    def columns(self, seqs: Sequence[int] | None, batch: int = 5000) -> AsyncGenerator[list[StoredColumns], None]:
        """The structured columns and hashed body of these events (None: of all), in seq order (a body
        whose event row is missing comes with None for its columns)."""

    async def unconfirmed_columns(self, seqs: Sequence[int]) -> tuple[int, list[int]]:
        """(how many of these events the store confirmed itself — the stored hash follows from
        prev_hash and the hashed bytes, the structured columns spell exactly those bytes — and
        the seqs it did not confirm, for the caller to check: all of them on a store that cannot)."""

    async def export_lines(self, after: int, limit: int) -> list[tuple[int, str]]:
        """(seq, published line) of up to `limit` events after `after`: canonical JSON with the hashes."""


class CommitmentRepo(Protocol):
    """Salts of the chain's commitments to personal data, kept outside the chain."""

    async def add(self, subject: str, salt: str) -> None:
        """Keep the salt of a new commitment."""

    async def salt(self, subject: str) -> str | None:
        """The salt of a commitment, unless it was forgotten."""

    async def forget(self, subjects: list[str]) -> int:
        """Delete salts (the committed values become unrecoverable); return how many went."""


class SubscriptionRepo(Protocol):
    """Who asked for which regular message."""

    async def set(self, person_id: int, topic: str, on: bool) -> bool:
        """Subscribe or unsubscribe; tell whether anything changed."""

    async def subscribed(self, person_id: int, topic: str) -> bool:
        """Whether a person gets a topic's messages."""

    async def subscribers(self, topic: str) -> list[int]:
        """Person ids subscribed to a topic, oldest subscription first."""


class CheckpointRepo(Protocol):
    """One signed checkpoint per business day, kept as published."""

    async def add(self, day: str, seq: int, head: str, body: str) -> bool:
        """Store a day's checkpoint; False when that day already has one (the first stands)."""

    async def latest(self, limit: int = 1) -> list[str]:
        """The newest checkpoints' bodies (canonical JSON), newest first."""

    async def for_day(self, day: str) -> str | None:
        """The checkpoint body of one business day, if made."""



class ParamRepo(Protocol):
    """Governed parameters with their full history."""

    async def current(self) -> Params:
        """The latest value of every parameter (defaults for any never set)."""

    async def as_of(self, moment: str) -> Params:
        """The values in force at a moment (defaults for any not yet set then): an order keeps
        the terms of when it was started, whatever a proposal changed since."""

    async def ensure_initial(self, initial: Params) -> None:
        """Record setup values for parameters that have never been set."""

    async def change(self, name: str, value: int, source: str) -> None:
        """Give a parameter a new value (from a passed proposal or setup)."""

    async def change_many(self, changes: dict[str, int], source: str) -> None:
        """Give several parameters new values at once (checked together: the fee shares move as one)."""

    async def history(self, name: str) -> list[tuple[int, str, str]]:
        """(value, changed_at, source) of every value a parameter has had."""



class InboxRepo(Protocol):
    """Inbound messages, stored once per provider id before anything acts on them."""

    async def store(self, channel: str, provider_id: str, address: str, payload: dict[str, Any]) -> tuple[int, bool]:
        """Store a message; return (id, newly_stored). A redelivery returns the first id."""

    async def payload(self, message_id: int) -> dict[str, Any] | None:
        """The stored payload of one message."""

    async def next_pending(self, channel: str, address: str) -> tuple[int, dict[str, Any]] | None:
        """The oldest unprocessed message from one sender."""

    async def lock_sender(self, channel: str, address: str) -> bool:
        """Hold one sender's messages for this transaction, so several app processes keep
        their order (PostgreSQL advisory lock; SQLite writers are serialised anyway)."""

    async def store_many(self, rows: Sequence[NewInbound]) -> list[tuple[int, bool]]:
        """Store several messages in one statement; (id, newly_stored) for each, in order."""

    async def claim_batch(self, limit: int, skip_channels: Collection[str] = ()) -> list[ClaimedInbound]:
        """Claim, for this transaction, the oldest pending message of up to `limit` different senders
        whose oldest message no other transaction holds (the rest of a sender's messages wait)."""

    async def last_received_at(self, channel: str, address: str) -> datetime | None:
        """When this sender's newest message arrived (WhatsApp's 24-hour window)."""

    async def pending_photo_refs(self) -> set[str]:
        """The staged photos that messages still waiting to be processed refer to."""

    async def pending_senders(self) -> list[tuple[str, str]]:
        """Every (channel, address) with unprocessed messages (for recovery after a crash)."""

    async def finish(self, message_id: int, status: InboxStatus = InboxStatus.DONE, error: str | None = None) -> None:
        """Mark a message processed (or failed, with the error kept for operators)."""

    async def finish_many(self, message_ids: Collection[int], at: str | None = None) -> None:
        """Mark several messages processed in one statement (a batch), at `at` (default: the
        transaction's time)."""



class OutboxRepo(Protocol):
    """Outbound messages, stored in the same transaction as the change that caused them.

Delivery status: pending → sending (claimed until `lease_until`) → sent | pending (retry
later) | failed (gave up: a permanent error or too many attempts) | unknown (see below).
Channels read by polling (web chat) are stored already `sent`, so they are never claimed.

Crash between the provider accepting a message and `mark_sent`: the providers have no
idempotency key, so nobody can tell afterwards whether the message went out. The row stays
`sending` until its lease expires; `recover_expired` then decides per channel:

* at-least-once (the default, e.g. Telegram): the row goes back to `pending` and is sent
  again. A rare duplicate chat message is harmless — every button is idempotent in the flows
  (a second "Claim" tap is answered "already taken") — while a lost one (a job offer, "your
  meal was delivered") is not. `last_error` records that it may be a duplicate.
* at-most-once (channels listed in `hold`, e.g. SMS where each copy costs money): the row
  becomes `unknown`, is listed by `failed()` next to the failed ones, and an operator resends
  it with `retry_failed` only after checking with the person."""

    async def enqueue(self, channel: str, address: str, payload: dict[str, Any], *, delivered: bool = False) -> int:
        """Store a message for sending; `delivered` for channels read by polling (web chat)."""

    def add(self, channel: str, address: str, payload: dict[str, Any], *, delivered: bool = False) -> None:
        """Store a message for sending with the transaction's others (inserted, numbered, at commit;
        earlier if this transaction reads the outbox first)."""

    async def flush(self) -> None:
        """Insert the messages `add`ed so far now (before reading or changing the outbox table directly)."""

    async def number_at_commit(self) -> None:
        """Give this transaction's messages their commit-ordered `seq` (called last, under the
        chain-head row lock, so no transaction committing later can get a lower number)."""

    async def for_recipient(self, channel: str, address: str, after: int, limit: int = 200) -> list[tuple[int, dict[str, Any]]]:
        """Committed messages to one recipient after a cursor (a `seq`), in commit order."""

    async def claim_due(self, channels: Collection[str], now: datetime | str | None = None,
                        limit: int = 100, lease_seconds: float = 120) -> list[OutboxRow]:  # fmt: skip
        """Take due rows for sending (each person's oldest unsent one only, so order is kept).
        
        On PostgreSQL the rows are locked with FOR UPDATE SKIP LOCKED, so several processes
        share the work without waiting on each other; SQLite writers are serialised anyway."""

    async def mark_sent(self, outbox_id: int, provider_message_id: str | None = None) -> None:
        """The provider accepted the message."""

    async def mark_retry(self, outbox_id: int, error: str, next_attempt_at: datetime | str, *,
                         count_attempt: bool = True) -> None:  # fmt: skip
        """Not delivered this time: try again later (`count_attempt=False` for flood control,
        which is the bot's fault, not the message's)."""

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        """Give up on a message, visibly: it is listed by `failed()` and can be retried."""

    async def recover_expired(self, now: datetime | str | None = None, hold: Collection[str] = (),
                              channels: Collection[str] | None = None) -> tuple[int, int]:  # fmt: skip
        """Take back rows whose sender died mid-send; return (requeued, held as unknown).
        
        Rows another process is recovering right now are skipped (no lock waits, no deadlocks)."""

    async def failed(self, limit: int = 100) -> list[OutboxRow]:
        """Messages given up on (failed) or of unknown fate, newest first, for operators."""

    async def retry_failed(self, ids: Iterable[int] | None = None) -> int:
        """Send failed/unknown messages again (the given ids, or all); return how many."""

    async def sent_with_meta(self, channel: str, key: str, value: int | str, address: str | None = None) -> list[OutboxRow]:
        """Delivered messages whose meta has key == value (e.g. every offer of job 42), to edit them.
        
        The payload is JSON text on both databases, so a LIKE narrows the scan and the JSON
        decides; fine for the recent rows this is used on (a job is edited minutes after posting)."""

    async def withdraw_unsent(self, key: str, value: int | str) -> int:
        """Take back messages not yet handed to a provider whose meta has key == value (e.g. the
        offers of a job that was just claimed), so nobody is sent an offer that is already gone;
        return how many. A row being sent right now is left alone (it is edited or answered
        "no longer available" later)."""

    async def by_provider_suffix(self, channel: str, suffix: str) -> OutboxRow | None:
        """The sent message whose provider id ends with `suffix` (e.g. a Telegram poll's id)."""



class ConversationRepo(Protocol):
    """Where each person is in a conversation, as JSON (never pickled)."""

    async def get(self, person_id: int) -> dict[str, Any]:
        """The stored step and answers, or an empty state (buttons are prompts: PromptRepo)."""

    async def put(self, person_id: int, state: dict[str, Any]) -> None:
        """Replace the stored step and answers."""



class PhotoRepo(Protocol):
    """Records of stored photos (the bytes live in the photo store)."""

    async def add(self, photo_id: str, kind: str, owner_id: int, content_type: str) -> None:
        """Record a stored photo."""

    async def mark_deleted(self, photo_id: str) -> None:
        """Record that a photo's bytes were deleted (the record stays, for the audit trail)."""

    async def older_than(self, before: str, limit: int = 1000) -> list[str]:
        """Ids of photos stored before a time and not yet deleted (for the retention purge)."""

    async def kept(self, photo_ids: Collection[str]) -> set[str]:
        """Which of these ids have a record whose bytes are still meant to be kept (not deleted)."""

    async def get(self, photo_id: str) -> dict[str, Any] | None:
        """A photo's record, if it exists and was not deleted."""



class JobRunRepo(Protocol):
    """Which idempotent scheduled jobs already ran for which key (usually a day)."""

    async def claim(self, name: str, key: str) -> bool:
        """Mark a job run; False if it already ran for this key."""



class TimeoutRepo(Protocol):
    """What the timeout job did to which order, once per stage and round of a stay in a status."""

    async def mark(self, order_id: int, stage: str, since: str, round_: int = 1) -> bool:
        """Record a stage's round as done; False if it was done already."""

    async def done(self, order_id: int, stage: str, since: str) -> list[str]:
        """When each round of a stage was done during the stay that began at `since`."""


class ScreeningRepo(Protocol):
    """Face embeddings and safety assessments, on the caller's connection."""

    async def lock_area(self, lat: float, lng: float) -> None:
        """Serialise screenings near one place until the transaction ends (PostgreSQL).
        
        Takes a transaction advisory lock on the point's geohash-5 cell and its neighbours, in
        sorted order (no deadlocks). Two points within the duplicate radius (≪ a 5 km cell) always
        share a cell in their neighbourhoods, so two donors photographing the same seeker at
        the same moment are screened one after the other and the second sees the first.
        SQLite needs nothing: its writers are serialised already."""

    async def add_embedding(
        self, order_id: int | None, lat: float, lng: float, embedding: np.ndarray, created_at: datetime, expires_at: datetime
    ) -> int:
        """Store a seeker's embedding until expires_at."""

    async def candidates(self, since: datetime, lat: float, lng: float, radius_m: float) -> list[Candidate]:
        """Embeddings stored since `since` within radius_m of a point, nearest first.
        
        Embeddings of orders that ended without a meal (cancelled, declined, refunded, failed)
        are left out."""

    async def purge_expired(self, now: datetime) -> int:
        """Delete every embedding whose duplicate window has passed; return how many."""

    async def add_assessment(self, order_id: int | None, score_bp: int, model_version: str, features: dict[str, Any]) -> int:
        """Keep the safety score of an order's location with its model version and inputs."""

    async def assessments(self, order_id: int) -> list[dict[str, Any]]:
        """An order's safety assessments, oldest first."""

    async def outcomes_near(self, lat: float, lng: float, radius_m: float, since: datetime) -> tuple[int, int]:
        """(delivered, failed) orders created since `since` within radius_m of a point."""

    async def add_report(self, order_id: int, worker_id: int, went_well: bool, safety_issue: bool,
                         lat: float, lng: float) -> bool:  # fmt: skip
        """Record a worker's one-tap report of a delivery (once per order)."""

    async def issues_near(self, lat: float, lng: float, radius_m: float, since: datetime) -> int:
        """Worker-reported safety issues within radius_m of a point since a time."""

    async def outcome_rows(self, limit: int = 50_000) -> list[tuple[dict[str, Any], bool]]:
        """(features, delivered safely?) for assessed orders that reached an outcome: the real
        training data that replaces the synthetic bootstrap set."""



class PromptRepo(Protocol):
    """A person's prompts: opened with numbers unique among their open ones, then closed once."""

    async def open(self, person_id: int, kind: str, options: Sequence[tuple[str, str]], *,
                   expires_at: str | None, ref: str | None = None) -> Prompt:  # fmt: skip
        """Open a prompt; the same question still open is withdrawn (asked again)."""

    async def open_for(self, person_id: int) -> list[Prompt]:
        """The person's open prompts, newest first."""

    async def recent(self, person_id: int, limit: int = 50) -> list[Prompt]:
        """The person's newest prompts, open or closed, newest first."""

    async def open_and_recent(self, person_id: int) -> tuple[list[Prompt], list[Prompt]]:
        """`open_for` and `recent` (default limit) at once, in one round trip."""

    async def with_payload(self, person_id: int, payload: str) -> Prompt | None:
        """The person's prompt offering this payload: the newest open one, else the newest closed one."""

    async def answer(self, prompt_id: int) -> bool:
        """Close a prompt as answered; False if it was no longer open."""

    async def withdraw(self, ref: str) -> int:
        """Close every open prompt about something that is gone (e.g. "job:42"); return how many."""

    async def get(self, prompt_id: int) -> Prompt | None:
        """One prompt by id."""



class ContributionRepo(Protocol):
    """Who put how much into each order, from where, and what went back."""

    async def add(self, order_id: int, seq: int, source: Source, account: str, person_id: int, amount: int, tip: int) -> Contribution:
        """Store one contribution (its ledger transaction is already recorded)."""

    async def add_many(self, items: Sequence[Contribution]) -> list[Contribution]:
        """Store several contributions in one go, in order (`id` ignored); return them with their ids."""

    async def next_seq(self, order_id: int) -> int:
        """The number the order's next contribution gets (1 for its first)."""

    async def for_order(self, order_id: int) -> list[Contribution]:
        """An order's contributions in the order they were made."""

    async def add_refunded(self, contribution_id: int, amount: int) -> None:
        """Count paise returned to a contribution's source."""


class CampaignRepo(Protocol):
    """Campaigns by id, share code or order; their gifts in the order they were made."""

    async def add(self, campaign: Campaign) -> Campaign:
        """Store a new campaign; set its id and collect its events."""

    async def get(self, campaign_id: int, *, lock: bool = False) -> Campaign | None:
        """Load a campaign (row-locked on PostgreSQL when `lock`: gifts to it queue up here)."""

    async def by_code(self, code: str) -> Campaign | None:
        """The campaign with this share code."""

    async def for_order(self, order_id: int) -> Campaign | None:
        """The campaign an order belongs to, if any."""

    async def save(self, campaign: Campaign, loaded_version: int) -> None:
        """Write the campaign back if nobody changed it meanwhile; collect its events."""

    async def due_to_expire(self, now: str, limit: int = 500) -> list[int]:
        """Open campaigns whose time is up, oldest first."""

    async def gifts(self, campaign_id: int) -> list[Gift]:
        """A campaign's gifts in the order they were made."""

    async def gift_by_key(self, campaign_id: int, key: str) -> Gift | None:
        """The gift made under an idempotency key, if any."""

    async def add_gift(self, campaign_id: int, seq: int, person_id: int, amount: int, anonymous: bool, key: str,
                       payment_id: int | None = None) -> Gift:  # fmt: skip
        """Store one gift (its ledger transaction, or its card hold, is already recorded)."""

    async def add_gift_refunded(self, gift_id: int, amount: int) -> None:
        """Count paise returned to a giver."""

    async def of_person(self, person_id: int, limit: int = 10) -> list[Campaign]:
        """Campaigns a person created or gave to, newest first."""

    async def count_open(self) -> int:
        """How many campaigns are collecting now."""

    async def open_with_places(self, limit: int = 500) -> list[tuple[Campaign, Place]]:
        """Campaigns still collecting, newest first, each with its seeker's place (for distances only)."""

    async def set_nearby(self, person_id: int, place: Place) -> bool:
        """Opt a person in to "campaign near you" at a place (or move their place); True if new."""

    async def clear_nearby(self, person_id: int) -> bool:
        """Opt a person out (their place is deleted); True if they were in."""

    async def nearby_place(self, person_id: int) -> Place | None:
        """Where an opted-in person wants to hear of campaigns, or None when they have not opted in."""

    async def nearby_in_box(self, south: float, west: float, north: float, east: float, limit: int = 5000) -> list[tuple[int, Place]]:
        """Opted-in people whose place is inside a box (the caller checks the true distance)."""

    async def notice(self, campaign_id: int, person_id: int, kind: str) -> tuple[int, str] | None:
        """(told_seq, told_at) of what a person was last told about a campaign, or None."""

    async def notices_on(self, person_id: int, kind: str, day: str) -> int:
        """How many notices of a kind a person got on a day (for the daily cap)."""

    async def tell(self, campaign_id: int, person_id: int, kind: str, day: str, told_seq: int,
                   was: tuple[int, str] | None) -> bool:
        """Record that a person was told, if nobody recorded it since `was`; False: tell nothing."""


class DisputeRepo(Protocol):
    """One dispute per order: raised, resolved, appealed."""

    async def add(self, dispute: Dispute) -> bool:
        """Store a new dispute (its id is set); False when the order already has one."""

    async def get(self, dispute_id: int, *, lock: bool = False) -> Dispute | None:
        """One dispute (row-locked on PostgreSQL when `lock`)."""

    async def for_order(self, order_id: int) -> Dispute | None:
        """The dispute about an order, if any."""

    async def changeable_orders(self, resolved_since: str) -> list[int]:
        """Orders whose dispute may still move money: appealed, or resolved at or after `resolved_since`."""

    async def save(self, dispute: Dispute, version: int) -> bool:
        """Write a changed dispute if nobody changed it since `version`; tell whether it was written."""


class PledgeRepo(Protocol):
    """Pledges of money ahead, their balances (mirroring the ledger) and their uses."""

    async def add(self, person_id: int, terms: PledgeTerms, renew_on: str | None) -> Pledge:
        """Store a new active pledge holding nothing yet (its money comes by a ledger transaction)."""

    async def get(self, pledge_id: int, *, lock: bool = False) -> Pledge | None:
        """One pledge (row-locked on PostgreSQL when `lock`, waiting for other holders)."""

    async def for_person(self, person_id: int) -> list[Pledge]:
        """A donor's pledges, newest first."""

    async def candidates(self, lat: float, lng: float, hour: int, after: tuple[int, int] = (0, 0),
                         limit: int = 20) -> list[Pledge]:  # fmt: skip
        """Active pledges with money left that may cover a place and local hour, in allocation
        order (rank, then oldest) after `after` = (rank, id); located ones by their box only (the
        caller checks the exact distance)."""

    async def lock_requester(self, person_id: int, cap_name: str, default: int) -> int:
        """Lock the requester's row (their concurrent orders take turns, so the daily cap holds) and
        return the governed cap `cap_name` (`default` when never set)."""

    async def pick(self, requester_id: int, day: str, lat: float, lng: float, hour: int, need: int, cap: int,
                   after: tuple[int, int] = (0, 0), limit: int = 20, *, order_id: int | None = None) -> PledgePick:  # fmt: skip
        """One pass of allocation's read, after `lock_requester`: what pledges paid today for the
        requester's orders, and the candidates after `after` (not the requester's own), in
        allocation order, that cover min(need, cap − that), row-locked as they are now; with
        `order_id`, where the store can in the same round trip, that order's next contribution number."""

    async def spend(self, order_id: int, draws: Sequence[tuple[int, int]], day: str, area: str) -> None:
        """Take what each (pledge id, paise) paid towards an order off its pledge and record the uses."""

    async def move(self, pledge_id: int, remaining: int, total_in: int = 0, returned: int = 0) -> None:
        """Add to the pledge's money figures (negative `remaining` to spend) after its ledger move."""

    async def set_status(self, pledge_id: int, status: PledgeStatus) -> None:
        """Pause, resume or cancel."""

    async def set_renew_on(self, pledge_id: int, day: str | None) -> None:
        """Set the day of the next monthly renewal (None: it no longer renews)."""

    async def due_for_renewal(self, day: str, limit: int = 1000) -> list[int]:
        """Auto-renewing, active pledges whose renewal day is `day` or earlier, oldest first."""

    async def uses(self, pledge_id: int, limit: int = 10) -> list[PledgeUse]:
        """A pledge's newest uses first."""

    async def used_on(self, day: str) -> dict[int, list[PledgeUse]]:
        """Every use on a business day, per pledge, in order."""

    async def mark_told(self, pledge_id: int, day: str) -> bool:
        """Note that its donor was told about `day`; False when they already were."""

    async def round_places(self, person_id: int) -> int:
        """Round the places of a person's pledges to about a kilometre (/forget); return how many."""

    async def totals(self, ids: Sequence[int] | None = None) -> dict[int, tuple[int, int, int]]:
        """(remaining, total_in, returned) per pledge (all, or these), for audits and tests."""

    async def count_active(self) -> int:
        """How many pledges are active."""

    async def set_often(self, pledge_id: int, often: bool) -> None:
        """Tell its donor of every use (from the uses after now) or, with False, once a day."""

    async def often_due(self, told_before: str, limit: int = 1000) -> list[int]:
        """Pledges told of every use with untold uses, last told before a time (or never)."""

    async def untold_uses(self, pledge_id: int) -> tuple[int, list[PledgeUse]]:
        """(the newest use id, the uses after the last one told), oldest first."""

    async def mark_told_often(self, pledge_id: int, upto_use_id: int) -> bool:
        """Note the uses up to this one told, now; False when another process already did."""

    async def drawn_for_requester(self, person_id: int, day: str, *, lock: bool = False) -> int:
        """Paise pledges paid on a business day towards orders this person requested (refunded
        ones included); `lock` makes two of their orders drawing at once take turns."""
class PaymentsRepo(Protocol):
    """UPI top-up requests, imported statement rows, payout details, batches and lines."""

    async def add_topup(self, reference: str, person_id: int, amount: int) -> TopUpRequest | None:
        """Store a top-up request; None if the reference is taken (the caller draws another)."""

    async def topup(self, reference: str) -> TopUpRequest | None:
        """A top-up request by its reference."""

    async def add_statement_row(self, txn_id: str, date: str, amount: int, reference: str | None) -> bool:
        """Store a statement row as unmatched; False when this bank transaction was imported before."""

    async def statement_row(self, txn_id: str, *, lock: bool = False) -> StatementRow | None:
        """One imported row by the bank's transaction id (row-locked on PostgreSQL when `lock`)."""

    async def settle_row(self, txn_id: str, status: RowStatus, person_id: int, tx_id: int, note: str) -> bool:
        """Mark an unmatched row credited to a person; False if it no longer is unmatched."""

    async def rows_for_reference(self, reference: str) -> int:
        """How many rows already credited a top-up reference."""

    async def unmatched_rows(self, limit: int = 50) -> list[StatementRow]:
        """Rows waiting for the treasurer, oldest first."""

    async def details(self, person_id: int) -> PayoutDetails | None:
        """Where a person's payouts go, if they said."""

    async def set_details(self, details: PayoutDetails) -> None:
        """Store (or replace) a person's payout details."""

    async def add_batch(self, day: str) -> PayoutBatch | None:
        """Open the batch of a day; None if that day has one."""

    async def batch(self, batch_id: int) -> PayoutBatch | None:
        """One batch."""

    async def latest_batch(self) -> PayoutBatch | None:
        """The newest batch."""

    async def add_line(self, batch_id: int, account: str, details: PayoutDetails, name: str, amount: int,
                       tx_id: int) -> int:  # fmt: skip
        """Add one person's payout to a batch; return the line's id."""

    async def lines(self, batch_id: int) -> list[PayoutLine]:
        """A batch's lines in order."""

    async def line(self, line_id: int) -> PayoutLine | None:
        """One payout line."""

    async def mark_batch_paid(self, batch_id: int, bank_ref: str, by: int) -> bool:
        """Record the bank's reference for a batch and its pending lines as paid; once."""

    async def mark_line_paid(self, line_id: int) -> bool:
        """Mark one pending line paid (a transfer went through); False if it was not pending."""

    async def pending_lines(self, method: Method, limit: int = 500) -> list[PayoutLine]:
        """Lines of any batch still pending and paid by this method, oldest first."""

    async def fail_line(self, line_id: int, reversal_tx_id: int) -> bool:
        """Mark a line failed with its reversal; False if it already was."""

    async def connect_ready(self, account: str) -> tuple[bool, str, str | None] | None:
        """(ready, missing, last told) of a connected account; None before Stripe said anything."""

    async def set_connect_state(self, account: str, ready: bool, missing: str, created: int) -> bool:
        """Store what Stripe said of an account; False (nothing changed) when a newer event was stored."""

    async def connect_refused(self, account: str, missing: str) -> None:
        """Stripe refused a transfer to an account: not ready until an account.updated newer than the
        last one stored says otherwise."""

    async def mark_connect_told(self, account: str, missing: str) -> bool:
        """Remember the payee was told what their account misses; False if they already were."""

    async def stripe_payee(self, account: str) -> int | None:
        """The person whose payouts go to this connected account."""

    async def skip_notice(self, person_id: int) -> tuple[int, str] | None:
        """(amount, when) a payee without details was last told money waits for them."""

    async def set_skip_notice(self, person_id: int, amount: int) -> None:
        """Remember that a payee was told now that `amount` waits for their payout details."""


class PrivacyRepo(Protocol):
    """What the service holds about one person, its erasure (/forget) and the retention sweeps."""

    async def export(self, person_id: int, accounts: Sequence[str]) -> dict[str, Any]:
        """Every row about a person, as plain JSON values (secrets and others' words left out)."""

    async def accounts_of(self, prefixes: Sequence[str]) -> list[str]:
        """Ledger accounts that exist under any of these exact names (e.g. donor:3, worker:2)."""

    async def pending_deposits(self, person_id: int) -> list[int]:
        """Deposits for a person still waiting for a second admin."""

    async def open_campaigns(self, person_id: int) -> list[str]:
        """Codes of campaigns not yet ended that a person started or gave to."""

    async def pending_payouts(self, person_id: int) -> list[int]:
        """Payout lines to a person the bank has not paid yet."""

    async def photo_ids(self, person_id: int) -> list[str]:
        """Photos a person sent that are still stored."""

    async def erase(self, person_id: int, current: tuple[str, str] | None, sessions_until: str) -> dict[str, int]:
        """Erase a person's identities, messages, state and places; return counts by kind."""

    async def replace_text(self, needles: Sequence[str], replacement: str) -> int:
        """Replace whole-word occurrences of each needle in the free-text columns; return how many
        cells changed."""

    async def coarsen_orders(self, before: str, limit: int = 5000) -> int:
        """Round the exact coordinates of orders created before a time (once each); return how many."""

    async def delete_messages(self, before: str) -> int:
        """Delete handled inbox and outbox messages older than a time; return how many."""

    async def delete_farewells(self, before: str) -> int:
        """Delete the last messages to erased people once sent (or given up) before a time."""

    async def delete_expired_sessions(self, now: str) -> int:
        """Delete web-chat sessions past their expiry."""

    async def delete_link_attempts(self, before: str) -> int:
        """Delete link codes that expired and wrong link tries made before a time."""


class CardPaymentRepo(Protocol):
    """One row per PaymentIntent; changed only with the version it was loaded at."""

    async def add(self, payment: CardPayment) -> CardPayment:
        """Store a new payment; return it with its id."""

    async def get(self, payment_id: int, *, lock: bool = False) -> CardPayment | None:
        """One payment (row-locked on PostgreSQL when `lock`)."""

    async def by_attempt(self, order_id: int, attempt: int, *, lock: bool = False) -> CardPayment | None:
        """The payment of an order's n-th card attempt."""

    async def by_intent(self, intent: str, *, lock: bool = False) -> CardPayment | None:
        """The payment a provider's payment id belongs to (row-locked on PostgreSQL when `lock`)."""

    async def for_order(self, order_id: int) -> list[CardPayment]:
        """An order's card payments, first attempt first."""

    async def in_status(self, statuses: Sequence[CardStatus], limit: int = 1000) -> list[CardPayment]:
        """Payments in any of these states, oldest first."""

    async def save(self, payment: CardPayment) -> bool:
        """Write a changed payment if nobody changed it since it was loaded; tell whether it was."""


class GovernanceRepo(Protocol):
    """Proposals, their seconds and their votes (one per member per proposal)."""

    async def mark_pool_short_told(self, proposal_id: int, amount: int) -> bool:
        """Remember the admins were told a passed appeal vote waits for the pool; False if they already were."""

    async def set_polls_stop_pending(self, proposal_id: int, pending: bool) -> None:
        """Mark a closed proposal's native polls as still to stop (or stopped)."""

    async def polls_stop_pending(self, limit: int = 100) -> list[int]:
        """Closed proposals whose native polls are still to stop, oldest first."""

    async def add(self, proposal: Proposal) -> Proposal:
        """Store a new proposal and give it its id."""

    async def get(self, proposal_id: int, *, lock: bool = False) -> Proposal | None:
        """One proposal (row-locked on PostgreSQL when `lock`)."""

    async def save(self, proposal: Proposal, version: int) -> bool:
        """Write a changed proposal if nobody changed it since `version`; tell whether it was written."""

    async def active(self) -> list[Proposal]:
        """Proposals waiting for seconds or open for voting, oldest first."""

    async def recent(self, limit: int = 10) -> list[Proposal]:
        """The newest proposals, whatever their status, newest first."""

    async def due(self, now: str, limit: int = 500) -> list[int]:
        """Active proposals whose time is up (voting ended, or seconds never came), oldest first."""

    async def passed_setting(self, names: Collection[str]) -> dict[str, int]:
        """For each parameter, the newest passed proposal that changed it (for /rules)."""

    async def add_second(self, proposal_id: int, person_id: int) -> bool:
        """Record a member's second once; False if they had seconded already."""

    async def seconds(self, proposal_id: int) -> int:
        """How many members seconded a proposal."""

    async def vote_of(self, proposal_id: int, person_id: int) -> tuple[str, str] | None:
        """A member's current vote on a proposal and the channel it came by, if any."""

    async def cast(self, proposal_id: int, person_id: int, choice: str, channel: str) -> None:
        """Record a member's vote, replacing any earlier one (one member, one vote)."""

    async def tally(self, proposal_id: int) -> dict[str, int]:
        """Votes per choice on a proposal."""


class RatingRepo(Protocol):
    """Ratings of settled orders, one per order, rater and aspect."""

    async def add(self, rating: Rating) -> bool:
        """Store a new rating (its id is set); False when this rater already rated this aspect."""

    async def get(self, rating_id: int) -> Rating | None:
        """One rating."""

    async def about(self, subject: str, subject_id: int) -> list[Rating]:
        """Every rating of a restaurant or a worker, oldest first."""

    async def save(self, rating: Rating, version: int) -> bool:
        """Write an appeal or a decision if nobody changed the rating since `version`."""

    async def add_comment(self, rating_id: int, rater_id: int, comment: str) -> bool:
        """Store the rater's comment once; False when the rating is not theirs or already has one."""


class UnitOfWork(Protocol):
    """Repositories sharing one transaction; events are collected here and chained at commit."""

    @property
    def at(self) -> datetime:
        """When this unit of work happens (one clock reading for all it does)."""

    @property
    def now(self) -> str:
        """`at` as ISO-8601, the form stored."""

    @property
    def day(self) -> str:
        """The business day `at` falls in (India time)."""

    @property
    def events(self) -> list[DomainEvent]:
        """Events recorded so far, chained at commit."""

    @property
    def people(self) -> PeopleRepo:
        """The people."""

    @property
    def identity(self) -> IdentityRepo:
        """The identity."""

    @property
    def restaurants(self) -> RestaurantRepo:
        """The restaurants."""

    @property
    def workers(self) -> WorkerRepo:
        """The workers."""

    @property
    def orders(self) -> OrderRepo:
        """The orders."""

    @property
    def prompts(self) -> PromptRepo:
        """The questions with options open to each person."""

    @property
    def contributions(self) -> ContributionRepo:
        """The contributions to orders' escrow."""

    @property
    def campaigns(self) -> CampaignRepo:
        """Campaigns and the gifts to them."""

    @property
    def disputes(self) -> DisputeRepo:
        """The disputes about delivered orders."""

    @property
    def pledges(self) -> PledgeRepo:
        """The money pledged ahead for others' meals."""

    @property
    def payments(self) -> PaymentsRepo:
        """UPI top-ups, statement rows and payouts."""

    @property
    def cards(self) -> CardPaymentRepo:
        """The card payments of orders."""

    @property
    def governance(self) -> GovernanceRepo:
        """Proposals, seconds and votes."""

    @property
    def ratings(self) -> RatingRepo:
        """Ratings and their appeals."""

    @property
    def ledger(self) -> LedgerRepo:
        """The ledger."""

    @property
    def chain(self) -> ChainRepo:
        """The chain."""

    @property
    def subscriptions(self) -> SubscriptionRepo:
        """Who asked for which regular message."""

    @property
    def commitments(self) -> CommitmentRepo:
        """Salts of the chain's commitments to personal data."""

    @property
    def checkpoints(self) -> CheckpointRepo:
        """The signed daily checkpoints of the chain."""

    @property
    def params(self) -> ParamRepo:
        """The params."""

    @property
    def inbox(self) -> InboxRepo:
        """The inbox."""

    @property
    def outbox(self) -> OutboxRepo:
        """The outbox."""

    @property
    def conversations(self) -> ConversationRepo:
        """The conversations."""

    @property
    def photos(self) -> PhotoRepo:
        """The photos."""

    @property
    def timeouts(self) -> TimeoutRepo:
        """What the timeout job did."""

    @property
    def job_runs(self) -> JobRunRepo:
        """Which idempotent scheduled jobs ran for which key."""

    @property
    def screening(self) -> ScreeningRepo:
        """The screening."""

    @property
    def privacy(self) -> PrivacyRepo:
        """People's own data: export, erasure, retention."""


    async def remember_roles(self, person_ids: Collection[int]) -> None:
        """Find out in one query which of these people run no restaurant, are no worker, have no
        pledge and have no prompt, so that asking for those of them in this unit of work needs no
        round trip."""

    def record(self, event: DomainEvent) -> None:
        """Collect one event for the bus and the chain."""

    def record_all(self, events: Iterable[DomainEvent]) -> None:
        """Collect several events."""

    def later(self, callback: AfterCommit) -> None:
        """Run a side effect outside the database once the transaction has committed."""


class Store(Protocol):
    """Opens units of work (read-write, or read-only) on one database with one clock."""

    @property
    def clock(self) -> Clock:
        """The clock every unit of work reads its time from."""

    def uow(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read-write unit of work: bus handlers, then chain append, then commit."""

    def reader(self, *, snapshot: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """A read-only unit of work (it must record no events); `snapshot`: one state for all reads."""

    def part(self, unit: UnitOfWork, *, savepoint: bool = True) -> AbstractAsyncContextManager[None]:
        """One part of a batch in `unit` (a savepoint): undone alone, with its events and messages, if
        it fails. Without `savepoint` nothing is undone: the caller abandons the whole unit of work."""

    @property
    def outbox_commits(self) -> int:
        """How many transactions with outbound messages this process has committed (a ticket for `outbox_changed`)."""

    async def outbox_changed(self, timeout: float, since: int | None = None) -> None:
        """Wait until this process commits new outbound messages, or `timeout` seconds pass; at once
        if it has committed some since the ticket `since` was taken."""

    async def params(self) -> Params:
        """The current governed parameters."""


class PhotoStore(Protocol):
    """Encrypted photo bytes at rest, by id."""

    async def put(self, data: bytes) -> str:
        """Store bytes; return the new photo id."""

    async def get(self, photo_id: str) -> bytes | None:
        """The bytes of a photo, or None once deleted."""

    async def delete(self, photo_id: str) -> None:
        """Delete a photo's bytes (idempotent)."""


class TransferGateway(Protocol):
    """Payouts by Stripe Connect: a connected account per payee, its onboarding link, transfers.
    A transfer the provider refuses raises core.payments.connect.TransferRefused; any other error
    is a failure to reach it, and the same call (same idempotency key) is made again later."""

    async def connect_account(self, idempotency_key: str) -> str:
        """Create a connected account for a payee (the same key gives the same account); its id."""

    async def onboarding_link(self, account: str) -> str:
        """A one-time link where the payee gives the provider their bank details and identity."""

    async def transfer(self, account: str, amount: int, idempotency_key: str, metadata: dict[str, str]) -> str:
        """Send `amount` paise to a connected account; the transfer's id."""


class PaymentGateway(Protocol):
    """Card payments held until delivery: a hosted payment page for a manual-capture payment,
    captured at settlement, cancelled on refund before it, refunded after it.

    Every call that changes money carries an idempotency key, so a call retried after a timeout
    (by the SDK, or by the next run of the job) is the same call at the provider, never a second
    one. The Stripe adapter lives in core/adapters/stripe."""

    async def checkout(self, amount: int, idempotency_key: str, metadata: dict[str, str], description: str) -> Checkout:
        """Create a manual-capture payment of `amount` paise and a page where the donor pays it."""

    async def retrieve(self, intent: str) -> IntentState:
        """The provider's view of one payment (for reconciliation)."""

    async def capture(self, intent: str, amount: int, idempotency_key: str) -> IntentState:
        """Take `amount` paise of the hold (the rest is released); the state tells the fee if known."""

    async def cancel(self, intent: str, idempotency_key: str) -> IntentState:
        """Release the whole hold."""

    async def refund(self, intent: str, amount: int, idempotency_key: str) -> IntentState:
        """Give back `amount` paise of a captured payment."""
