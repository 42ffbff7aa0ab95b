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
from flows.steps import Verb
from flows.understand import Intent, choose, understand

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
REUSABLE = frozenset({Verb.JOBS, Verb.ROLE, Verb.LANG, Verb.GIVE_ASK})
# A poll: answered any number of times (a later vote replaces the earlier) and left open, so its
# numbers stay reserved for it until the vote closes and withdraws it.
STANDING = frozenset({Verb.VOTE})

# Two-option questions that are not yes/no ("wait longer, or cancel?"): flows/understand.py
# NOT_YES_OR_NO (a typed "no" must not pick the second option, which ends an order for good).


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


def option_for(prompt: Prompt, text: str) -> Option | None:
    """The option of one prompt that a typed reply names (flows/understand.py decides how)."""
    options = prompt.options
    index = choose([o.payload for o in options], [o.label for o in options], [o.number for o in options], text)
    return options[index] if index is not None else None


async def typed(uow: UnitOfWork, person_id: int, text: str) -> tuple[Prompt, Option] | None:
    """The prompt and option a typed answer is for: the newest open prompt that accepts it; a
    number no open prompt carries names the newest closed one that did (to answer it politely)."""
    meaning = understand(text)
    number = meaning.number if meaning.intent is Intent.NUMBER else None
    open_prompts, recent = await uow.prompts.open_and_recent(person_id)  # one round trip for all three looks
    for prompt in open_prompts:
        if option := option_for(prompt, text):
            return prompt, option
    # "ok" to a job offer someone else has just claimed: its handler says who was faster.
    newest = recent[:1]
    if newest and newest[0].withdrawn_at is not None and (option := option_for(newest[0], text)):
        return newest[0], option
    if number is not None:
        for prompt in recent:
            if option := prompt.with_number(number):
                return prompt, option
    return None


def options_text(open_prompts: list[Prompt]) -> str:
    """What a person can type now: the newest open question's numbers and labels ("1 Accept · 2 Reject")."""
    return " · ".join(f"{o.number} {o.label}" for o in open_prompts[0].options) if open_prompts else ""


async def pressed(uow: UnitOfWork, person_id: int, payload: str) -> tuple[Prompt, Option] | None:
    """The prompt a pressed button belongs to (None for a payload never offered to this person)."""
    prompt = await uow.prompts.with_payload(person_id, payload)
    option = prompt.with_payload(payload) if prompt else None
    return (prompt, option) if prompt and option else None
