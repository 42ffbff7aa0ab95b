"""A prompt: one question put to one person, its numbered options, and whether it is still open.

A person may have several prompts open at once (a job offer, a delivery report request, a
poll). Each option carries a self-contained payload (what a button sends back) and a number
that is unique among the person's open prompts, so a typed "3" on SMS names one option without
doubt, whichever prompt arrived last."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class PromptState(StrEnum):
    """Where a prompt stands; only OPEN prompts take answers."""

    OPEN = "open"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"  # what it asked about is gone (a job someone else claimed), or asked again
    EXPIRED = "expired"  # open past its expiry: never stored, read from expires_at


@dataclass(frozen=True)
class Option:
    """One answer a prompt offers: its number, what it says, what it sends back."""

    number: int
    label: str
    payload: str


@dataclass(frozen=True)
class Prompt:
    """A question put to a person (times are ISO-8601 UTC strings, compared as text)."""

    id: int
    person_id: int
    kind: str  # what it answers: the verb of its first option ("claim", "report", "accept")
    options: tuple[Option, ...]
    opened_at: str
    expires_at: str | None = None  # None: open until answered or withdrawn
    answered_at: str | None = None
    withdrawn_at: str | None = None
    ref: str | None = None  # what it is about, to withdraw it when that is gone ("job:42")

    def state(self, now: str) -> PromptState:
        """The prompt's state at a moment."""
        if self.answered_at is not None:
            return PromptState.ANSWERED
        if self.withdrawn_at is not None:
            return PromptState.WITHDRAWN
        if self.expires_at is not None and self.expires_at <= now:
            return PromptState.EXPIRED
        return PromptState.OPEN

    def numbers(self) -> set[int]:
        """The numbers its options carry."""
        return {o.number for o in self.options}

    def payloads(self) -> frozenset[str]:
        """The payloads its options send back."""
        return frozenset(o.payload for o in self.options)

    def with_payload(self, payload: str) -> Option | None:
        """The option that sends this payload, if any."""
        return next((o for o in self.options if o.payload == payload), None)

    def with_number(self, number: int) -> Option | None:
        """The option carrying this number, if any."""
        return next((o for o in self.options if o.number == number), None)


def number_block(in_use: Iterable[int], count: int) -> list[int]:
    """The lowest run of `count` consecutive numbers from 1 that no open option uses
    (job offer open with 1-2: a report request gets 3-4; once 1-2 are answered, the next gets 1-2)."""
    used = set(in_use)
    start = 1
    while any(n in used for n in range(start, start + count)):
        start += 1
    return list(range(start, start + count))


def numbered(labels_and_payloads: Sequence[tuple[str, str]], open_prompts: Iterable[Prompt]) -> tuple[Option, ...]:
    """Options for a new prompt, numbered uniquely across the person's open prompts."""
    in_use = {n for p in open_prompts for n in p.numbers()}
    numbers = number_block(in_use, len(labels_and_payloads))
    return tuple(Option(n, label, payload) for n, (label, payload) in zip(numbers, labels_and_payloads, strict=True))


def superseded(open_prompts: Iterable[Prompt], payloads: Iterable[str]) -> list[int]:
    """Open prompts that ask exactly the same question again (same payloads): the new one replaces them."""
    wanted = frozenset(payloads)
    return [p.id for p in open_prompts if p.payloads() == wanted]
