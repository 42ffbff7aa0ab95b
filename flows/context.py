"""What a flow step works with: the person, their saved state, and ways to reply or notify."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.board.base import JobBoard
from core.ledger.transparency import BooksCache
from core.members.model import Person
from core.payments.upi import UpiPayee
from core.ports import PaymentGateway, TransferGateway, UnitOfWork
from core.seekers.photos import LocalPhotoStore
from core.seekers.screening import Screener
from flows.i18n import Translator, translator
from flows.messages import Choice, Outbound
from flows.prompts import open_prompt

# Channels that cannot carry photos: flows ask for other proof there.
PHOTOLESS_CHANNELS = frozenset({"sms"})

# Channels whose messages are read by polling the outbox rather than pushed by a sender.
POLLED_CHANNELS = frozenset({"webchat", "test"})


@dataclass(frozen=True)
class Services:
    """Long-lived collaborators, built once by the composition root."""

    board: JobBoard
    screener: Screener
    photos: LocalPhotoStore
    upi: UpiPayee | None = None  # the cooperative's UPI id: /topup is off without it
    secret: bytes = b""  # signs one-time links (a person's data download)
    public_url: str = ""  # where those links point
    books: BooksCache = field(default_factory=BooksCache)  # the public figures, kept up to the chain's head
    payments: PaymentGateway | None = None  # cards are on only when Stripe is configured
    transfers: TransferGateway | None = None  # payouts by Stripe Connect, only with KETPAAR_STRIPE_CONNECT


async def deliver_to(uow: UnitOfWork, person: Person, message: Outbound) -> None:
    """Store a message for a person in the outbox (sent after commit by their channel).

    Its buttons open a prompt beside the person's other open ones (flows/prompts.py), numbered
    so that a typed number or "yes" answers the right one."""
    payload = (await open_prompt(uow, person, message)).to_payload()
    uow.outbox.add(person.channel, person.address, payload, delivered=person.channel in POLLED_CHANNELS)
    if person.web_address:
        uow.outbox.add("webchat", person.web_address, payload, delivered=True)  # the linked web page


@dataclass
class FlowContext:
    """One inbound message being handled inside one unit of work."""

    uow: UnitOfWork
    services: Services
    person: Person
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def _(self) -> Translator:
        """Translate into the sender's language."""
        return translator(self.person.language, self.person.channel)

    @property
    def step(self) -> str | None:
        """The question the person was last asked, if any."""
        return self.state.get("step")

    def goto(self, step: str | None, **data: Any) -> None:
        """Move to a step, keeping only the data given (and prior data when step is unchanged)."""
        self.state["step"] = step
        self.state["data"] = {**self.state.get("data", {}), **data} if data else self.state.get("data", {})
        if step is None:
            self.state["data"] = {}

    @property
    def data(self) -> dict[str, Any]:
        """Answers collected in the current step sequence."""
        data: dict[str, Any] = self.state.setdefault("data", {})
        return data

    async def reply(self, text: str, choices: tuple[Choice, ...] = (), photo_id: str | None = None,
                    **meta: Any) -> None:  # fmt: skip
        """Answer the sender; buttons open a prompt, so typed numbers and labels work too."""
        await deliver_to(self.uow, self.person, Outbound(text, choices, photo_id, meta=meta))

    async def tell(self, person: Person, message: Outbound) -> None:
        """Send a message to someone else."""
        await deliver_to(self.uow, person, message)
