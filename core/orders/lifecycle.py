"""The order lifecycle as one table of data: status, transition names, and their targets."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where an order stands; stored as its readable value."""

    DRAFT = "draft"  # photo and location received, not yet screened
    SCREENED = "screened"  # passed duplicate and safety checks
    FUNDED = "funded"  # money held in escrow
    AT_RESTAURANT = "at_restaurant"  # capacity reserved, waiting for accept/reject
    ACCEPTED = "accepted"
    ON_BOARD = "on_board"  # delivery job open on the board
    CLAIMED = "claimed"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"  # seeker not found; restaurant and worker still paid
    DISPUTED = "disputed"  # escrow frozen until an admin resolves
    SETTLED = "settled"
    REFUNDED = "refunded"
    REJECTED_DUPLICATE = "rejected_duplicate"
    REJECTED_UNSAFE = "rejected_unsafe"
    DECLINED = "declined"  # no restaurant could take it; refunded
    ABANDONED = "abandoned"  # no worker came: the restaurant paid for the cooked meal, the rest refunded
    CANCELLED = "cancelled"  # stopped by the donor (or an admin, or the stale-draft job); refunded
    RETAKE = "retake"  # the photo showed several people: the donor is asked for one of just the seeker


INITIAL = Status.DRAFT

CANCELLABLE = (
    Status.DRAFT,
    Status.SCREENED,
    Status.FUNDED,
    Status.AT_RESTAURANT,
    Status.ACCEPTED,
    Status.ON_BOARD,
    Status.CLAIMED,
)

# transition name -> (allowed source states, target state)
TRANSITIONS: dict[str, tuple[tuple[Status, ...], Status]] = {
    "screen": ((Status.DRAFT,), Status.SCREENED),
    "reject_duplicate": ((Status.DRAFT,), Status.REJECTED_DUPLICATE),
    "reject_unsafe": ((Status.DRAFT,), Status.REJECTED_UNSAFE),
    "ask_retake": ((Status.DRAFT,), Status.RETAKE),
    "fund": ((Status.SCREENED,), Status.FUNDED),
    "send": ((Status.FUNDED,), Status.AT_RESTAURANT),
    # a rejecting restaurant hands the order to the next one: same state, new restaurant
    "reroute": ((Status.AT_RESTAURANT,), Status.AT_RESTAURANT),
    "decline": ((Status.FUNDED, Status.AT_RESTAURANT), Status.DECLINED),
    "accept": ((Status.AT_RESTAURANT,), Status.ACCEPTED),
    "post": ((Status.ACCEPTED,), Status.ON_BOARD),
    "claim": ((Status.ON_BOARD,), Status.CLAIMED),
    # a claiming worker who does not come gives the job back (or the pickup timeout does)
    "release": ((Status.CLAIMED,), Status.ON_BOARD),
    # nobody claimed the job and the donor gave up waiting (core/orders/timeouts.py)
    "abandon": ((Status.ON_BOARD,), Status.ABANDONED),
    "pickup": ((Status.CLAIMED,), Status.PICKED_UP),
    "deliver": ((Status.PICKED_UP,), Status.DELIVERED),
    "fail_delivery": ((Status.PICKED_UP,), Status.DELIVERY_FAILED),
    "settle": ((Status.DELIVERED, Status.DELIVERY_FAILED, Status.DISPUTED), Status.SETTLED),
    "dispute": ((Status.DELIVERED, Status.DELIVERY_FAILED), Status.DISPUTED),
    "refund": ((Status.DISPUTED,), Status.REFUNDED),
    # An appeal's decision overturns the first one: the order follows where the money went now.
    # These are the only exits from terminal states (CORRECTIONS); an appeal is decided once.
    "overturn_to_settled": ((Status.REFUNDED,), Status.SETTLED),
    "overturn_to_refunded": ((Status.SETTLED,), Status.REFUNDED),
    "cancel": (CANCELLABLE, Status.CANCELLED),
}

# Corrections between final money states, made only by an appeal's decision (core/orders/disputes.py).
CORRECTIONS = frozenset({"overturn_to_settled", "overturn_to_refunded"})

TERMINAL = frozenset(
    {
        Status.SETTLED,
        Status.REFUNDED,
        Status.REJECTED_DUPLICATE,
        Status.REJECTED_UNSAFE,
        Status.DECLINED,
        Status.CANCELLED,
        Status.ABANDONED,
        Status.RETAKE,
    }
)

# Orders in these states hold money in escrow.
ESCROW_HELD = frozenset(
    {
        Status.FUNDED,
        Status.AT_RESTAURANT,
        Status.ACCEPTED,
        Status.ON_BOARD,
        Status.CLAIMED,
        Status.PICKED_UP,
        Status.DELIVERED,
        Status.DELIVERY_FAILED,
        Status.DISPUTED,
    }
)

# Orders under which the seeker did not (and will not) get a meal: their face embeddings do
# not make the next request a duplicate. A seeker whose first donor cancelled can be fed.
NO_MEAL = frozenset(
    {
        Status.CANCELLED,
        Status.ABANDONED,
        Status.RETAKE,
        Status.REFUNDED,
        Status.DECLINED,
        Status.DELIVERY_FAILED,
        Status.REJECTED_DUPLICATE,
        Status.REJECTED_UNSAFE,
    }
)

# Delivery outcomes that teach the location safety model: a meal handed over, or not.
GOOD_OUTCOMES = frozenset({Status.DELIVERED, Status.SETTLED})
FAILED_OUTCOMES = frozenset({Status.DELIVERY_FAILED})

# Orders whose meal was cooked and counted as completed capacity.
CAPACITY_DONE = (Status.DELIVERED, Status.SETTLED, Status.DELIVERY_FAILED, Status.ABANDONED)

# Orders in these states hold one unit of the restaurant's capacity.
CAPACITY_HELD = frozenset(
    {Status.AT_RESTAURANT, Status.ACCEPTED, Status.ON_BOARD, Status.CLAIMED, Status.PICKED_UP}
)


class IllegalTransition(Exception):
    """Raised when a transition is tried from a state that does not allow it."""

    def __init__(self, order_id: int, transition: str, status: Status) -> None:
        super().__init__(f"order {order_id}: cannot {transition!r} from {status.value!r}")
        self.order_id, self.transition, self.status = order_id, transition, status


def target(order_id: int, transition: str, status: Status) -> Status:
    """Return the state a transition leads to from `status`, or raise IllegalTransition."""
    sources, to = TRANSITIONS[transition]
    if status not in sources:
        raise IllegalTransition(order_id, transition, status)
    return to
