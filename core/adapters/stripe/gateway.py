"""PaymentGateway over the stripe SDK (async, httpx): Checkout Sessions with manual capture."""

from __future__ import annotations

import time
from typing import Any

import stripe

from core.payments.card_model import CHECKOUT_MINUTES, Checkout, IntentState
from core.payments.connect import TransferRefused

# Retries of one call inside the SDK (timeouts, connection errors, 409/5xx), always with the
# same idempotency key; the scheduled job repeats the call later if they all fail.
NETWORK_RETRIES = 2


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject (not a dict in this SDK) as plain nested dicts."""
    out: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return out


def _fee(intent: dict[str, Any]) -> int | None:
    """The processor's fee from the latest charge's balance transaction, when Stripe gave it."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    txn = charge.get("balance_transaction")
    if txn is None or isinstance(txn, str):
        return None
    fee = txn.get("fee")
    return int(fee) if fee is not None else None


def intent_state(intent: Any) -> IntentState:
    """A PaymentIntent (StripeObject or dict) in the domain's words."""
    intent = _plain(intent)
    charge = intent.get("latest_charge")
    refunded = int(charge.get("amount_refunded") or 0) if charge is not None and not isinstance(charge, str) else 0
    return IntentState(str(intent["id"]), str(intent["status"]), int(intent["amount"]), int(intent.get("amount_capturable") or 0),
                       int(intent.get("amount_received") or 0), refunded, _fee(intent))  # fmt: skip


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the form body as `content` (httpx deprecates `data=` for
    an already encoded body, and warnings are errors in the tests)."""

    def _get_request_args_kwargs(self, method: str, url: str, headers: Any, post_data: Any) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data")
        if data:
            kwargs["content"] = data
        return args, kwargs


class StripeGateway:
    """Card payments held until settlement, through Stripe's API (or a fake at `api_base`)."""

    def __init__(self, secret_key: str, *, api_base: str | None = None, public_url: str = "", timeout: float = 20.0) -> None:
        addresses: Any = {"api": api_base.rstrip("/")} if api_base else None
        self.http = _HTTPXClient(timeout=timeout)
        self.client = stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=NETWORK_RETRIES,
                                          http_client=self.http)  # fmt: skip
        self.public_url = public_url.rstrip("/")

    async def close(self) -> None:
        """Close the connection pool (at shutdown)."""
        await self.http.close_async()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped

    async def checkout(self, amount: int, idempotency_key: str, metadata: dict[str, str], description: str) -> Checkout:
        """A hosted Checkout page for one manual-capture PaymentIntent in INR paise."""
        done = f"{self.public_url}/pay/done"
        session = await self.client.v1.checkout.sessions.create_async(
            params={
                "mode": "payment",
                "success_url": done, "cancel_url": done,
                "line_items": [{"quantity": 1, "price_data": {"currency": "inr", "unit_amount": amount,
                                                              "product_data": {"name": description}}}],
                "payment_intent_data": {"capture_method": "manual", "metadata": metadata, "description": description},
                "metadata": metadata,
                # The page closes when our stale-draft job may cancel the order (Stripe then cancels
                # the PaymentIntent too), so a card cannot be held for an order already given up.
                "expires_at": int(time.time()) + CHECKOUT_MINUTES * 60,
            },
            # The amount is part of the key: a transaction rolled back and retried with another tip
            # asks for another page, which Stripe would refuse under the first one's key.
            options={"idempotency_key": f"ketpaar:{idempotency_key}:checkout:{amount}"},
        )  # fmt: skip
        # Newer API versions create the PaymentIntent only when the page is used: then the
        # webhook names it, found by our reference in its metadata.
        intent: Any = _plain(session).get("payment_intent")
        return Checkout("" if intent is None else intent if isinstance(intent, str) else str(intent["id"]), str(session["url"]))

    async def retrieve(self, intent: str) -> IntentState:
        """The PaymentIntent with its latest charge and balance transaction."""
        found = await self.client.v1.payment_intents.retrieve_async(
            intent, params={"expand": ["latest_charge.balance_transaction"]})
        return intent_state(found)

    async def capture(self, intent: str, amount: int, idempotency_key: str) -> IntentState:
        """Capture `amount_to_capture` (the rest of the hold is released by Stripe)."""
        try:
            done = await self.client.v1.payment_intents.capture_async(
                intent, params={"amount_to_capture": amount, "expand": ["latest_charge.balance_transaction"]},
                options={"idempotency_key": idempotency_key})  # fmt: skip
        except stripe.InvalidRequestError as exc:
            # Captured already (e.g. a retry whose idempotency key expired): report what Stripe has.
            state = await self.retrieve(intent)
            if state.status == "succeeded":
                return state
            raise exc
        return intent_state(done)

    async def cancel(self, intent: str, idempotency_key: str) -> IntentState:
        """Cancel the PaymentIntent: the hold is released."""
        try:
            done = await self.client.v1.payment_intents.cancel_async(intent, options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as exc:
            state = await self.retrieve(intent)
            if state.status == "canceled":
                return state
            raise exc
        return intent_state(done)

    async def connect_account(self, idempotency_key: str) -> str:
        """A Stripe-hosted (Express) connected account that can receive transfers; its id."""
        account = await self.client.v1.accounts.create_async(
            params={"type": "express", "capabilities": {"transfers": {"requested": True}}},
            options={"idempotency_key": idempotency_key})  # fmt: skip
        return str(account["id"])

    async def onboarding_link(self, account: str) -> str:
        """A one-time Account Link where the payee finishes onboarding (refreshed by asking again)."""
        done = f"{self.public_url}/pay/done"
        link = await self.client.v1.account_links.create_async(
            params={"account": account, "type": "account_onboarding", "refresh_url": done, "return_url": done})
        return str(link["url"])

    async def transfer(self, account: str, amount: int, idempotency_key: str, metadata: dict[str, str]) -> str:
        """A Transfer of `amount` paise (INR) to a connected account; refused → TransferRefused."""
        try:
            done = await self.client.v1.transfers.create_async(
                params={"amount": amount, "currency": "inr", "destination": account, "metadata": metadata},
                options={"idempotency_key": idempotency_key})  # fmt: skip
        except (stripe.InvalidRequestError, stripe.PermissionError) as exc:
            # Stripe answered and said no (account not onboarded, closed, not ours): not worth repeating.
            raise TransferRefused(str(exc.user_message or exc)) from exc
        return str(done["id"])

    async def refund(self, intent: str, amount: int, idempotency_key: str) -> IntentState:
        """Refund part of a captured PaymentIntent."""
        await self.client.v1.refunds.create_async(params={"payment_intent": intent, "amount": amount},
                                                  options={"idempotency_key": idempotency_key})  # fmt: skip
        return await self.retrieve(intent)
