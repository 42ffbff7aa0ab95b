"""Governance in words: each parameter's name and value in the reader's language, typed values read back."""

from __future__ import annotations

import re
from datetime import datetime

from core.governance.model import Proposal, VoteChoice
from core.governance.rules import FEE_SHARES, SPECS, Unit
from core.ledger.params import Params
from core.shared.clock import local_day
from flows.dispute_text import appeal_question
from flows.i18n import Translator, clock_time, day, money
from flows.numbers import normalise, read_int, read_rupees

SHARES = "fee_shares"  # the worker, pool and infra shares, proposed together as one item


def param_label(_: Translator, name: str) -> str:
    """A governed parameter's name for people."""
    labels: dict[str, str] = {
        "delivery_fee": _("Delivery fee"), SHARES: _("Fee shares (worker / pool / infra)"),
        "worker_share_bp": _("Worker's share of the fee"), "pool_share_bp": _("Guarantee pool's share of the fee"),
        "infra_share_bp": _("Infrastructure fund's share of the fee"), "daily_minimum": _("Daily minimum for workers"),
        "safety_threshold_bp": _("Location safety threshold"), "duplicate_window_min": _("Repeat-meal window"),
        "duplicate_radius_m": _("Repeat-meal distance"), "face_match_threshold_bp": _("Face match threshold"),
        "face_sure_bp": _("Face match sure on one photo"),
        "photo_retention_days": _("Photos kept for"), "campaign_max_minutes": _("Longest campaign"),
        "min_contribution": _("Smallest contribution"), "proposal_quorum_bp": _("Votes needed (quorum)"),
        "proposal_majority_bp": _("Yes votes needed (majority)"), "voting_period_hours": _("Voting period"),
        "proposal_seconds": _("Seconds a proposal needs"), "membership_fee": _("Membership fee"),
        "restaurant_radius_m": _("Farthest restaurant"), "max_deposit": _("Largest deposit"),
        "max_price": _("Highest meal price"), "max_pledge": _("Largest pledge"),
        "max_capacity": _("Most meals a day per restaurant"),
        "deposit_second_admin_above": _("Deposits needing a second admin, above"),
        "dispute_window_min": _("Time to report a problem"), "appeal_window_hours": _("Time to appeal"),
        "restaurant_answer_min": _("Restaurant answer wait"), "claim_wait_min": _("Wait before nearby zones"),
        "claim_give_up_min": _("Wait before a donor may stop"), "pickup_wait_min": _("Pickup wait"),
        "delivery_wait_min": _("Delivery wait"),
        "topup_min": _("Smallest UPI top-up"), "payout_hour": _("Payout hour (0-23)"),
        "payout_minimum": _("Smallest payout"), "order_detail_days": _("Exact places kept for"),
        "message_log_days": _("Messages kept for"), "card_fee_bp": _("Card fee (percent)"),
        "card_fee_fixed": _("Card fee (fixed)"), "card_fee_bearer": _("Card fee paid by (0 donor, 1 coop)"),
        "card_hold_warn_hours": _("Card hold warning after"), "max_money_pledge": _("Largest money pledge"),
        "pledge_daily_cap_per_requester": _("Pledge money per requester a day"),
        "campaign_nearby_radius_m": _("Campaign near you: distance"),
        "campaign_nearby_daily_cap": _("Campaign near you: most a day"),
    }  # fmt: skip
    return labels.get(name, name)


def percent(bp: int) -> str:
    """Basis points as a percentage: 6500 → "65%", 5001 → "50.01%"."""
    whole, frac = divmod(bp, 100)
    return f"{whole}%" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0") + "%"


def value_text(_: Translator, name: str, value: int, language: str) -> str:
    """A parameter's value with its unit, in the reader's language."""
    unit = SPECS[name].unit
    if unit is Unit.PAISE:
        return money(value, language)
    if unit is Unit.BP:
        return percent(value)
    words: dict[Unit, str] = {
        Unit.MINUTES: _("{n} min"), Unit.HOURS: _("{n} hours"), Unit.DAYS: _("{n} days"),
        Unit.METRES: _("{n} m"), Unit.MEALS: _("{n} meals"), Unit.COUNT: "{n}",
    }  # fmt: skip
    return words[unit].format(n=value)


def shares_text(worker: int, pool: int, infra: int) -> str:
    """The three fee shares: "80% / 10% / 10%"."""
    return " / ".join(percent(v) for v in (worker, pool, infra))


def current_text(_: Translator, item: str, params: Params, language: str) -> str:
    """The current value of a proposable item."""
    if item == SHARES:
        return shares_text(*params.fee_shares)
    return value_text(_, item, getattr(params, item), language)


def change_text(_: Translator, proposal: Proposal, before: Params | None, language: str) -> str:
    """What a proposal changes: "Daily minimum for workers: from ₹500 to ₹600", or its decision text."""
    changes = proposal.changes
    if proposal.appeal:
        return appeal_question(_, proposal.appeal, language)
    if not changes:
        return _("Decision: {text}").format(text=proposal.decision)
    if set(changes) == set(FEE_SHARES):
        after = shares_text(*(changes[n] for n in FEE_SHARES))
        old = shares_text(*before.fee_shares) if before else ""
        label = param_label(_, SHARES)
    else:
        [(name, value)] = changes.items()
        after = value_text(_, name, value, language)
        old = value_text(_, name, getattr(before, name), language) if before else ""
        label = param_label(_, name)
    if not old:
        return f"{label}: {after}"
    return _("{label}: from {old} to {new}").format(label=label, old=old, new=after)


def when(iso: str, language: str) -> str:
    """A moment as day and time in India: "26 Nov 2026, 12:00 pm"."""
    return f"{day(local_day(datetime.fromisoformat(iso)), language)}, {clock_time(iso, language)}"


def choice_label(_: Translator, choice: str) -> str:
    """A vote in words."""
    labels: dict[str, str] = {VoteChoice.YES: _("Yes"), VoteChoice.NO: _("No"), VoteChoice.ABSTAIN: _("Abstain")}
    return labels.get(choice, choice)


_PERCENT = re.compile(r"([0-9]{1,3})(?:\.([0-9]{1,2}))?\s*%?", re.ASCII)


def read_percent(text: str) -> int | None:
    """A typed percentage ("65", "65.5", "50.01%") as basis points, 0..10000; else None."""
    match = _PERCENT.fullmatch(normalise(text))
    if match is None:
        return None
    bp = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    return bp if bp <= 10_000 else None


def read_value(name: str, text: str) -> int | None:
    """A typed value for a parameter in its unit (rupees, percent, a whole number); None if unreadable.

    Bounds are checked by core (core/governance/rules.py), which says which were broken."""
    unit = SPECS[name].unit
    said = normalise(text)
    if unit is Unit.PAISE:
        return 0 if said.removeprefix("₹").strip() in ("0", "0.0", "0.00") else read_rupees(said, 10**15)
    if unit is Unit.BP:
        return read_percent(said)
    return read_int(said, 0, 10**15)


def read_shares(text: str) -> dict[str, int] | None:
    """Three typed percentages (worker pool infra: "75 15 10", "75/15/10") as a combined change."""
    parts = [p for p in re.split(r"[\s,/]+", normalise(text)) if p]
    values = [read_percent(p) for p in parts]
    if len(values) != 3 or any(v is None for v in values):
        return None
    return {name: int(v or 0) for name, v in zip(FEE_SHARES, values, strict=True)}
