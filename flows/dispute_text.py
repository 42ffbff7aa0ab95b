"""Disputes in words: reasons, decisions, and the yes/no question members vote on for an appeal."""

from __future__ import annotations

from typing import Any

from core.orders.dispute_model import Reason, Resolution
from flows.i18n import Translator, money


def reason_label(_: Translator, reason: str) -> str:
    """A reason in the reader's language."""
    labels: dict[str, str] = {
        Reason.NOT_DELIVERED: _("Not delivered"), Reason.WRONG_PERSON: _("Wrong person"),
        Reason.BAD_FOOD: _("Bad food"), Reason.UNSAFE: _("Unsafe"), Reason.OTHER: _("Other"),
    }  # fmt: skip
    return labels.get(reason, reason)


def resolution_label(_: Translator, resolution: str) -> str:
    """A resolution in the reader's language."""
    labels: dict[str, str] = {
        Resolution.SETTLE: _("Settle"), Resolution.REFUND: _("Refund all"),
        Resolution.SPLIT_MEAL: _("Meal only"), Resolution.SPLIT_FEE: _("Fee only"),
    }  # fmt: skip
    return labels.get(resolution, resolution)


def appeal_question(_: Translator, appeal: dict[str, Any], language: str) -> str:
    """What members answer yes or no to: "Change the decision on order #12 from Meal only to Refund all"."""
    return _("Change the decision on order #{order} from {old} to {new}").format(
        order=appeal["order"], old=resolution_label(_, str(appeal["from"])), new=resolution_label(_, str(appeal["to"]))
    )


def appeal_facts(_: Translator, appeal: dict[str, Any], language: str) -> str:
    """What members may know of the case: the reason's category and the amounts, nobody's name,
    number, place, photo or words (DESIGN.md, privacy)."""
    return _("Problem reported: {reason}. Meal {meal}, delivery {fee}, tip {tip}.").format(
        reason=reason_label(_, str(appeal["reason"])), meal=money(int(appeal["meal"]), language),
        fee=money(int(appeal["fee"]), language), tip=money(int(appeal["tip"]), language))  # fmt: skip
