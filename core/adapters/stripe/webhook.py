"""Stripe webhook events: verified with the SDK, then read into the domain's CardEvent."""

from __future__ import annotations

import json
from typing import Any

import stripe

from core.payments.cards import CardEvent
from core.payments.model import ConnectState

TOLERANCE_SECONDS = 300  # Stripe's default: an older signature is refused (replay protection)

KINDS = {
    "payment_intent.amount_capturable_updated": "authorised",
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
}


class BadSignature(Exception):
    """The Stripe-Signature header is missing, forged, stale, or the body is not an event."""


def verify(payload: bytes, header: str | None, secret: str) -> dict[str, Any]:
    """The event if the header is Stripe's signature of exactly this body, made in the last 5 minutes."""
    if not header:
        raise BadSignature("missing Stripe-Signature")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise BadSignature(str(exc)) from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise BadSignature("not a Stripe event")
    return event


def card_event(event: dict[str, Any]) -> CardEvent | None:
    """The domain event of a PaymentIntent notification; None for event types we do not act on."""
    kind = KINDS.get(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    if kind is None or not isinstance(obj, dict) or obj.get("object") != "payment_intent":
        return None
    metadata: dict[str, Any] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
    amount = obj.get("amount_received") if kind == "succeeded" else obj.get("amount_capturable")
    error: dict[str, Any] = obj["last_payment_error"] if isinstance(obj.get("last_payment_error"), dict) else {}
    reason = str(error.get("decline_code") or error.get("code") or obj.get("cancellation_reason") or "")
    return CardEvent(event["id"], kind, str(obj.get("id") or ""), str(metadata.get("payment") or ""),
                     int(amount) if isinstance(amount, int) else 0, reason)  # fmt: skip


def account_state(event: dict[str, Any]) -> ConnectState | None:
    """What an account.updated notification says of a connected account; None for other events."""
    obj = (event.get("data") or {}).get("object") or {}
    if event["type"] != "account.updated" or not isinstance(obj, dict) or obj.get("object") != "account":
        return None
    if not isinstance(obj.get("id"), str) or not obj["id"].startswith("acct_"):
        return None
    capabilities: dict[str, Any] = obj["capabilities"] if isinstance(obj.get("capabilities"), dict) else {}
    # An Express account reports its `transfers` capability; without that map, payouts_enabled decides alone.
    transfers = capabilities.get("transfers") == "active" if "transfers" in capabilities else obj.get("payouts_enabled") is True
    created = event.get("created")
    return ConnectState(obj["id"], obj.get("charges_enabled") is True, obj.get("payouts_enabled") is True,
                        obj.get("details_submitted") is True, transfers, created if isinstance(created, int) else 0)  # fmt: skip
