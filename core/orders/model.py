"""The Order aggregate: status changes only through the lifecycle table, each one an event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.orders.lifecycle import Status, target
from core.shared.events import DomainEvent, OrderReady, OrderTransitioned


@dataclass
class Order:
    """One meal for one seeker, from a donor's photo to settlement."""

    id: int
    donor_id: int
    status: Status
    seeker_lat: float
    seeker_lng: float
    zone: str
    created_at: str
    version: int = 0
    restaurant_id: int | None = None
    menu_item_id: int | None = None
    meal_name: str | None = None
    meal_price: int = 0
    delivery_fee: int = 0
    tip: int = 0
    worker_id: int | None = None
    seeker_photo: str | None = None
    delivery_photo: str | None = None
    delivery_lat: float | None = None
    delivery_lng: float | None = None
    screening: dict[str, Any] = field(default_factory=dict)
    tried_restaurants: list[int] = field(default_factory=list)
    capacity_day: str | None = None
    ready_at: str | None = None
    settle_after: str | None = None  # when a delivered or failed order's dispute window ends
    delivery_failed: bool = False  # the seeker was not found (kept once the order has settled)
    # When the order entered its status ("" until saved after a move): timeouts count from it.
    status_at: str = ""
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def total(self) -> int:
        """What the donor pays in paise: meal + delivery fee + tip."""
        return self.meal_price + self.delivery_fee + self.tip

    def _move(self, transition: str, actor: str, **details: Any) -> None:
        """Apply a transition from the table, bump the version, record the event."""
        old = self.status
        self.status = target(self.id, transition, old)
        self.status_at = ""  # the repository stamps the store's time on save
        self.version += 1
        self.events.append(
            OrderTransitioned(
                actor=actor,
                order_id=self.id,
                transition=transition,
                from_status=old.value,
                to_status=self.status.value,
                details=details,
            )
        )

    def _screened(self, transition: str, result: dict[str, Any], actor: str) -> None:
        """Keep the screening result on the order and move by its verdict."""
        self.screening = result
        self._move(transition, actor, screening=result)

    def screen(self, result: dict[str, Any], actor: str) -> None:
        """Record a passed screening."""
        self._screened("screen", result, actor)

    def reject_duplicate(self, result: dict[str, Any], actor: str) -> None:
        """Stop: this seeker was fed recently nearby."""
        self._screened("reject_duplicate", result, actor)

    def reject_unsafe(self, result: dict[str, Any], actor: str) -> None:
        """Stop: the location is not safe enough for a worker."""
        self._screened("reject_unsafe", result, actor)

    def ask_retake(self, result: dict[str, Any], actor: str) -> None:
        """Stop: the photo showed several people, so nothing was checked; the donor sends another."""
        self._screened("ask_retake", result, actor)

    def choose_meal(
        self, restaurant_id: int, item_id: int, name: str, price: int, fee: int, tip: int
    ) -> None:
        """Set the meal and amounts before funding (no status change)."""
        self.restaurant_id, self.menu_item_id, self.meal_name = restaurant_id, item_id, name
        self.meal_price, self.delivery_fee, self.tip = price, fee, tip

    def fund(self, actor: str, source: str) -> None:
        """Money for the whole order is now in escrow."""
        self._move("fund", actor, amount=self.total, source=source)

    def send(self, day: str, actor: str) -> None:
        """Hand the order to its restaurant (capacity reserved for `day`)."""
        self.capacity_day = day
        assert self.restaurant_id is not None
        self.tried_restaurants.append(self.restaurant_id)
        self._move("send", actor, restaurant_id=self.restaurant_id, meal=self.meal_name)

    def reroute(self, restaurant_id: int, item_id: int, name: str, price: int, day: str, actor: str) -> int:
        """Give the order to the next restaurant (capacity reserved for `day`); return the paise to
        refund (price difference)."""
        refund = self.meal_price - price
        if refund < 0:
            raise ValueError("a rerouted meal may not cost more than what was paid")
        previous = self.restaurant_id
        self.restaurant_id, self.menu_item_id, self.meal_name = restaurant_id, item_id, name
        self.meal_price = price
        # The new kitchen's unit was taken on `day`, which is where release/complete must return it.
        self.capacity_day = day
        self.tried_restaurants.append(restaurant_id)
        self._move("reroute", actor, previous=previous, restaurant_id=restaurant_id, refund=refund)
        return refund

    def decline(self, actor: str, reason: str) -> None:
        """No restaurant could take the order."""
        self._move("decline", actor, reason=reason)

    def accept(self, actor: str) -> None:
        """The restaurant will cook the meal."""
        self._move("accept", actor, restaurant_id=self.restaurant_id)

    def post(self, actor: str) -> None:
        """The delivery job is open on the board."""
        self._move("post", actor, zone=self.zone)

    def mark_ready(self, at: datetime, actor: str) -> None:
        """The restaurant says the meal is packed (no status change)."""
        self.ready_at = at.isoformat()
        self.version += 1
        assert self.restaurant_id is not None
        self.events.append(OrderReady(actor=actor, order_id=self.id, restaurant_id=self.restaurant_id))

    def claim(self, worker_id: int, actor: str) -> None:
        """A worker won the claim."""
        self.worker_id = worker_id
        self._move("claim", actor, worker_id=worker_id)

    def release(self, actor: str, reason: str) -> None:
        """The claiming worker gave the job back (or never answered): it is open again."""
        worker_id, self.worker_id = self.worker_id, None
        self._move("release", actor, worker_id=worker_id, reason=reason)

    def abandon(self, actor: str, paid_restaurant: int, refund: int) -> None:
        """Nobody claimed the job and the donor stopped: the cooked meal is paid, the rest refunded."""
        self._move("abandon", actor, restaurant_id=self.restaurant_id, paid_restaurant=paid_restaurant, refund=refund)

    def pickup(self, actor: str) -> None:
        """The worker has the meal."""
        self._move("pickup", actor, worker_id=self.worker_id)

    def deliver(self, photo: str | None, lat: float, lng: float, actor: str, settle_after: str) -> None:
        """The seeker has the meal; proof photo and location recorded; it settles after the window."""
        self.delivery_photo, self.delivery_lat, self.delivery_lng = photo, lat, lng
        self.settle_after = settle_after
        self._move("deliver", actor, worker_id=self.worker_id, settle_after=settle_after)

    def fail_delivery(self, photo: str | None, lat: float, lng: float, actor: str, settle_after: str) -> None:
        """The seeker could not be found; the worker's proof of the place is recorded."""
        self.delivery_photo, self.delivery_lat, self.delivery_lng = photo, lat, lng
        self.settle_after, self.delivery_failed = settle_after, True
        self._move("fail_delivery", actor, worker_id=self.worker_id, reason="seeker_not_found", settle_after=settle_after)

    def settle(self, actor: str, tx_id: int) -> None:
        """Escrow paid out."""
        self._move("settle", actor, tx_id=tx_id)

    def dispute(self, actor: str, dispute_id: int, reason: str) -> None:
        """A party says the delivery went wrong: the escrow is frozen until an admin decides."""
        self._move("dispute", actor, dispute_id=dispute_id, reason=reason)

    def refund(self, actor: str, refund: int) -> None:
        """A dispute was resolved by giving everything back."""
        self._move("refund", actor, refund=refund)

    def overturn(self, actor: str, refunded: bool, dispute_id: int, source: str) -> None:
        """An appeal changed a dispute's decision: the order now says where the money went."""
        self._move("overturn_to_refunded" if refunded else "overturn_to_settled", actor, dispute_id=dispute_id, source=source)

    def cancel(self, actor: str, refund: int) -> None:
        """Stopped before pickup; escrow refunded."""
        self._move("cancel", actor, refund=refund)


class ConcurrentUpdate(Exception):
    """Raised when an order changed since it was loaded."""
