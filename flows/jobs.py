"""What workers read about a delivery job: the offer, and what it turns into once taken."""

from __future__ import annotations

from collections.abc import Mapping

from flows.i18n import distance, money, translator


def _int(payload: Mapping[str, object], key: str) -> int:
    value = payload.get(key, 0)
    return int(value) if isinstance(value, int | float | str) and value != "" else 0


def offer_text(language: str, channel: str | None, order_id: int, payload: Mapping[str, object], *, new: bool) -> str:
    """A job offer from its board payload (core.orders.service.job_for); `new` when it is pushed."""
    _ = translator(language, channel)
    if new:
        text = _("New job #{id}: pick up at {restaurant} ({address}), drop near {area}. Pay {pay}.")
    else:
        text = _("Job #{id}: pick up at {restaurant} ({address}), drop near {area}, {distance}. Pay {pay}.")
    return text.format(
        id=order_id, restaurant=payload.get("restaurant"), address=payload.get("restaurant_area"),
        area=payload.get("drop_area"), distance=distance(_int(payload, "distance_m"), language),
        pay=money(_int(payload, "pay"), language),
    )  # fmt: skip


def taken_text(language: str, order_id: int, name: str) -> str:
    """What an earlier job offer turns into once someone has claimed it."""
    _ = translator(language)
    return _("Job #{id} was taken by {name}. Send /jobs to see the open ones.").format(id=order_id, name=name)
