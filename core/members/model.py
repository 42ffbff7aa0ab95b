"""Identities and roles: people reached on a channel, restaurants, workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Approval(StrEnum):
    """Where an application to act as a restaurant or worker stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Person:
    """Someone reached at a home contact (channel, address), maybe also at linked identities; anyone may donate."""

    id: int
    channel: str
    address: str
    name: str | None
    language: str
    is_admin: bool = False
    is_member: bool = False
    # The person's web-chat identity when their home contact is another channel: notifications
    # are mirrored there so a linked web page shows them too (it costs nothing to deliver).
    web_address: str | None = None

    @property
    def actor(self) -> str:
        """How the person appears in the event log (no phone numbers in the public chain)."""
        return f"person:{self.id}"

    @property
    def display_name(self) -> str:
        """A name to show others."""
        return self.name or f"#{self.id}"


@dataclass(frozen=True)
class MenuItem:
    """An alms meal a restaurant offers, priced in paise."""

    id: int
    restaurant_id: int
    name: str
    price: int


@dataclass(frozen=True)
class Restaurant:
    """A cooperative restaurant with its daily alms capacity and hours."""

    id: int
    person_id: int
    name: str
    address: str
    lat: float
    lng: float
    zone: str
    daily_capacity: int
    open_minute: int
    close_minute: int
    status: Approval
    menu: tuple[MenuItem, ...] = field(default=())

    def is_open_at(self, minute_of_day: int) -> bool:
        """Tell whether the kitchen takes orders at a local minute of the day."""
        if self.open_minute <= self.close_minute:
            return self.open_minute <= minute_of_day < self.close_minute
        return minute_of_day >= self.open_minute or minute_of_day < self.close_minute


@dataclass(frozen=True)
class Worker:
    """A cooperative delivery worker and their zone."""

    id: int
    person_id: int
    name: str
    lat: float
    lng: float
    zone: str
    online: bool
    status: Approval


@dataclass(frozen=True)
class SessionRow:
    """A stored web-chat session (the secret only as its hash)."""

    id: str
    secret_hash: str
    address: str
    kind: str
    expires_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class LinkCodeRow:
    """An unused link code and the identity it was sent to."""

    id: int
    person_id: int
    channel: str
    address: str
