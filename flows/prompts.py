"""Buttons as prompts: each message with buttons opens one, and each answer finds its own.

A person can have a job offer, a delivery report request and an order to accept open at once.
Every option is numbered uniquely among the person's open prompts, so a typed "4" on SMS names
one option whichever message came last; a button sends its own payload and so answers its own
prompt. Expiry, chosen by what the prompt asks (its first option's verb):

* job offers (claim): no clock; open until the job is gone (claimed or cancelled: withdrawn);
* applications to approve and large deposits awaiting a second admin: 3 days;
* everything else (accept/reject, ready, meals, reports, roles, languages): 6 hours.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.members.model import Person
from core.ports import UnitOfWork
from core.prompts.model import Option, Prompt
from flows.messages import Outbound
from flows.numbers import MAX_ID, normalise, read_int
from flows.steps import Verb

DEFAULT_EXPIRY = timedelta(hours=6)
EXPIRY: dict[str, timedelta | None] = {
    Verb.CLAIM: None,  # until the job is gone (PromptRepo.withdraw on claim and cancel)
    Verb.APPROVE: timedelta(days=3),
    Verb.DEPOSIT2: timedelta(days=3),
    Verb.SECOND: None,  # until the proposal opens or lapses (withdrawn by its ref)
    Verb.VOTE: None,  # until the vote closes (withdrawn by its ref)
    Verb.RATING_DECIDE: timedelta(days=3),
}
REF_KEYS = ("job", "giveup", "proposal")  # message meta naming what a prompt is about, so it can be withdrawn
# Options that start or show something rather than answer a one-time question ("Show jobs"
# under a report request, a role or language to choose, again after /cancel): they work any
# number of times, and close only a prompt that offers nothing else.
REUSABLE = frozenset({Verb.JOBS, Verb.ROLE, Verb.LANG})
# A poll: answered any number of times (a later vote replaces the earlier) and left open, so its
# numbers stay reserved for it until the vote closes and withdraws it.
STANDING = frozenset({Verb.VOTE})

# Two-option questions that are not yes/no ("wait longer, or cancel?"): a typed "no" must not pick
# the second option, which here ends an order for good.
NOT_YES_OR_NO = frozenset({Verb.WAIT})

YES = {"yes", "y", "ok", "ஆம்", "ஆமாம்", "சரி", "aam", "aama", "aamam", "sari", "seri"}
NO = {"no", "n", "இல்லை", "வேண்டாம்", "illai", "illa", "venam", "vendam"}


def verb_of(payload: str) -> str:
    """The verb of a button payload ("claim:42" → "claim")."""
    return payload.split(":", 1)[0]


async def open_prompt(uow: UnitOfWork, person: Person, message: Outbound) -> Outbound:
    """Open a prompt for a message's buttons; return the message with its options' numbers."""
    if not message.choices:
        return message
    kind = verb_of(message.choices[0].payload)
    ttl = EXPIRY.get(kind, DEFAULT_EXPIRY)
    ref = next((f"{key}:{message.meta[key]}" for key in REF_KEYS if key in message.meta), None)
    prompt = await uow.prompts.open(
        person.id, kind, [(c.label, c.payload) for c in message.choices],
        expires_at=(uow.at + ttl).isoformat() if ttl else None, ref=ref,
    )  # fmt: skip
    numbered = tuple(replace(c, number=o.number) for c, o in zip(message.choices, prompt.options, strict=True))
    return replace(message, choices=numbered)


def _option_for(prompt: Prompt, said: str, number: int | None) -> Option | None:
    """The option of one prompt that a typed number, label or yes/no names."""
    if number is not None:
        return prompt.with_number(number)
    if option := next((o for o in prompt.options if normalise(o.label) == said), None):
        return option
    if len(prompt.options) == 2 and prompt.kind not in NOT_YES_OR_NO and (said in YES or said in NO):
        return prompt.options[0 if said in YES else 1]
    return None


async def typed(uow: UnitOfWork, person_id: int, text: str) -> tuple[Prompt, Option] | None:
    """The prompt and option a typed answer is for: the newest open prompt that accepts it; a
    number no open prompt carries names the newest closed one that did (to answer it politely)."""
    said = normalise(text)
    number = read_int(said, 1, MAX_ID)
    for prompt in await uow.prompts.open_for(person_id):
        if option := _option_for(prompt, said, number):
            return prompt, option
    if number is not None:
        for prompt in await uow.prompts.recent(person_id):
            if option := prompt.with_number(number):
                return prompt, option
    return None


async def pressed(uow: UnitOfWork, person_id: int, payload: str) -> tuple[Prompt, Option] | None:
    """The prompt a pressed button belongs to (None for a payload never offered to this person)."""
    prompt = await uow.prompts.with_payload(person_id, payload)
    option = prompt.with_payload(payload) if prompt else None
    return (prompt, option) if prompt and option else None
