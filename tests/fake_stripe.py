"""A small local fake of Stripe's HTTP API (PaymentIntents, Checkout Sessions, refunds, idempotency
keys) on 127.0.0.1, and webhooks signed exactly as Stripe signs them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.local_server import LocalServer

SECRET_KEY = "sk_test_fake_ketpaar"
WEBHOOK_SECRET = "whsec_fake_ketpaar"


def nested(form: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=1`) back into nested dicts (lists as dicts by index)."""
    out: dict[str, Any] = {}
    for key, value in form:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send: t=<unix time>,v1=HMAC-SHA256(secret, "t.payload")."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class FakeStripe:
    """Serves the fake from a background thread; records every call and every money operation."""

    fee_bp: int = 290
    fee_fixed: int = 30
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # Connect: connected accounts
    transfers: list[dict[str, Any]] = field(default_factory=list)  # Connect: transfers made
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, idempotency key)
    operations: list[tuple[str, str, int]] = field(default_factory=list)  # (capture|cancel|refund, intent, amount)
    stall: dict[str, float] = field(default_factory=dict)  # path fragment -> seconds to hold the next answer
    base_url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._idem: dict[str, tuple[int, Any]] = {}
        self._http: LocalServer | None = None

    # --- control ----------------------------------------------------------------------------
    def start(self) -> FakeStripe:
        """Start serving on a free port of 127.0.0.1."""
        self._http = LocalServer(self._app(), "Stripe", ws="none")
        self.base_url = self._http.start()
        return self

    def stop(self) -> None:
        """Stop the server thread."""
        if self._http is not None:
            self._http.stop()

    def fee(self, amount: int) -> int:
        """What this fake Stripe keeps of a captured amount."""
        return (amount * self.fee_bp + 5_000) // 10_000 + self.fee_fixed

    def pay(self, intent: str) -> dict[str, Any]:
        """The donor completes the hosted page: the card is authorised (requires_capture)."""
        with self._lock:
            pi = self.intents[intent]
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
            return json.loads(json.dumps(pi))

    def decline(self, intent: str, code: str = "insufficient_funds") -> dict[str, Any]:
        """The card is declined; the page lets the donor try again."""
        with self._lock:
            pi = self.intents[intent]
            pi.update(status="requires_payment_method", last_payment_error={"code": "card_declined", "decline_code": code})
            return json.loads(json.dumps(pi))

    def onboard(self, account: str, *, enabled: bool = True) -> dict[str, Any]:
        """The payee completes Stripe's onboarding form; with `enabled`, Stripe also enables
        transfers and payouts. Returns the account as an account.updated event carries it."""
        with self._lock:
            acct = self.accounts[account]
            acct["details_submitted"] = True
            acct["capabilities"]["transfers"] = "active" if enabled else "pending"
            acct["payouts_enabled"] = acct["charges_enabled"] = enabled
            acct["requirements"] = {"currently_due": [] if enabled else ["individual.verification.document"]}
            return json.loads(json.dumps(acct))

    def disable(self, account: str) -> dict[str, Any]:
        """Stripe stops transfers to an account (a document due, the account closed); the account as sent."""
        with self._lock:
            acct = self.accounts[account]
            acct["capabilities"]["transfers"] = "inactive"
            acct["payouts_enabled"] = False
            return json.loads(json.dumps(acct))

    def drop_hold(self, intent: str) -> dict[str, Any]:
        """Stripe cancels an uncaptured hold itself (7 days passed, or the bank withdrew it)."""
        with self._lock:
            pi = self.intents[intent]
            pi.update(status="canceled", amount_capturable=0, cancellation_reason="automatic")
            return json.loads(json.dumps(pi))

    def intent_of(self, url: str) -> str:
        """The PaymentIntent behind a Checkout page URL."""
        session = self.sessions[url.rstrip("/").rsplit("/", 1)[-1]]
        return str(session["payment_intent"])

    # --- the API ----------------------------------------------------------------------------
    def _charge(self, pi: dict[str, Any]) -> dict[str, Any] | None:
        return pi.get("latest_charge")

    def _app(self) -> FastAPI:
        app = FastAPI()

        async def form(request: Request) -> dict[str, Any]:
            return nested(parse_qsl((await request.body()).decode(), keep_blank_values=True))

        async def answer(request: Request, op: str, work: Any) -> JSONResponse:
            """Run `work` once per idempotency key; a repeated key gets the first answer back."""
            key = request.headers.get("idempotency-key")
            auth = request.headers.get("authorization", "")
            self.calls.append((request.method, request.url.path, key))
            if auth != f"Bearer {SECRET_KEY}":
                return JSONResponse({"error": {"type": "invalid_request_error", "message": "bad key"}}, status_code=401)
            with self._lock:
                if key and key in self._idem:
                    status, body = self._idem[key]
                else:
                    status, body = work()
                    if key:
                        self._idem[key] = (status, body)
                stall = next((s for frag, s in self.stall.items() if frag in request.url.path), 0.0)
                self.stall = {f: s for f, s in self.stall.items() if f not in request.url.path}
            if stall:
                await asyncio.sleep(stall)  # the operation is done; only the answer is late (a timeout)
            return JSONResponse(body, status_code=status)

        def error(message: str, code: str = "payment_intent_unexpected_state") -> tuple[int, dict[str, Any]]:
            return 400, {"error": {"type": "invalid_request_error", "code": code, "message": message}}

        def new_intent(amount: int, currency: str, capture: str, metadata: dict[str, Any], description: str = "") -> dict[str, Any]:
            pi = {"id": f"pi_{uuid.uuid4().hex[:20]}", "object": "payment_intent", "amount": amount, "currency": currency,
                  "capture_method": capture, "status": "requires_payment_method", "amount_capturable": 0,
                  "amount_received": 0, "metadata": metadata, "description": description, "latest_charge": None,
                  "cancellation_reason": None, "last_payment_error": None, "livemode": False}  # fmt: skip
            self.intents[pi["id"]] = pi
            return pi

        @app.post("/v1/checkout/sessions")
        async def create_session(request: Request) -> JSONResponse:
            params = await form(request)

            def work() -> tuple[int, Any]:
                expires = int(params.get("expires_at") or time.time() + 86_400)
                if not 1_800 <= expires - time.time() <= 86_400:  # Stripe's bounds: 30 minutes to 24 hours ahead
                    return error("The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                                 "parameter_invalid_integer")  # fmt: skip
                item = params["line_items"]["0"]
                data = params.get("payment_intent_data", {})
                pi = new_intent(int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)),
                                item["price_data"]["currency"], data.get("capture_method", "automatic"),
                                data.get("metadata", {}), data.get("description", ""))  # fmt: skip
                sid = f"cs_test_{uuid.uuid4().hex[:24]}"
                session = {"id": sid, "object": "checkout.session", "mode": params["mode"], "payment_intent": pi["id"],
                           "url": f"{self.base_url}/pay/{sid}", "metadata": params.get("metadata", {}),
                           "amount_total": pi["amount"], "currency": pi["currency"], "status": "open",
                           "expires_at": expires}  # fmt: skip
                self.sessions[sid] = session
                return 200, session

            return await answer(request, "session", work)

        @app.post("/v1/payment_intents")
        async def create_intent(request: Request) -> JSONResponse:
            params = await form(request)
            return await answer(request, "create", lambda: (200, new_intent(
                int(params["amount"]), params["currency"], params.get("capture_method", "automatic"), params.get("metadata", {}))))

        @app.get("/v1/payment_intents/{intent}")
        async def retrieve(intent: str, request: Request) -> JSONResponse:
            pi = self.intents.get(intent)
            if pi is None:
                return JSONResponse(error("No such payment_intent", "resource_missing")[1], status_code=404)
            return await answer(request, "retrieve", lambda: (200, json.loads(json.dumps(pi))))

        @app.post("/v1/payment_intents/{intent}/capture")
        async def capture(intent: str, request: Request) -> JSONResponse:
            params = await form(request)

            def work() -> tuple[int, Any]:
                pi = self.intents.get(intent)
                if pi is None:
                    return 404, error("No such payment_intent", "resource_missing")[1]
                if pi["status"] != "requires_capture":
                    return error(f"This PaymentIntent could not be captured because it has a status of {pi['status']}.")
                amount = int(params.get("amount_to_capture", pi["amount_capturable"]))
                if amount > pi["amount_capturable"]:
                    return error("amount_to_capture is greater than the amount capturable", "amount_too_large")
                txn = {"id": f"txn_{uuid.uuid4().hex[:16]}", "object": "balance_transaction", "amount": amount,
                       "fee": self.fee(amount), "net": amount - self.fee(amount)}  # fmt: skip
                charge = {"id": f"ch_{uuid.uuid4().hex[:20]}", "object": "charge", "amount": pi["amount"], "amount_captured": amount,
                          "amount_refunded": 0, "balance_transaction": txn}  # fmt: skip
                pi.update(status="succeeded", amount_received=amount, amount_capturable=0, latest_charge=charge)
                self.operations.append(("capture", intent, amount))
                return 200, json.loads(json.dumps(pi))

            return await answer(request, "capture", work)

        @app.post("/v1/payment_intents/{intent}/cancel")
        async def cancel(intent: str, request: Request) -> JSONResponse:
            def work() -> tuple[int, Any]:
                pi = self.intents.get(intent)
                if pi is None:
                    return 404, error("No such payment_intent", "resource_missing")[1]
                if pi["status"] in ("succeeded", "canceled"):
                    return error(f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}.")
                released = pi["amount_capturable"]
                pi.update(status="canceled", amount_capturable=0, cancellation_reason="requested_by_customer")
                self.operations.append(("cancel", intent, released))
                return 200, json.loads(json.dumps(pi))

            return await answer(request, "cancel", work)

        @app.post("/v1/accounts")
        async def create_account(request: Request) -> JSONResponse:
            params = await form(request)

            def work() -> tuple[int, Any]:
                acct = {"id": f"acct_{uuid.uuid4().hex[:16]}", "object": "account", "type": params.get("type", "express"),
                        "capabilities": {"transfers": "inactive"}, "payouts_enabled": False, "charges_enabled": False,
                        "details_submitted": False, "requirements": {"currently_due": ["external_account"]}}  # fmt: skip
                self.accounts[acct["id"]] = acct
                return 200, acct

            return await answer(request, "account", work)

        @app.post("/v1/account_links")
        async def create_account_link(request: Request) -> JSONResponse:
            params = await form(request)

            def work() -> tuple[int, Any]:
                if params.get("account") not in self.accounts or params.get("type") != "account_onboarding":
                    return error("No such account", "resource_missing")
                if not params.get("refresh_url") or not params.get("return_url"):
                    return error("refresh_url and return_url are required", "parameter_missing")
                return 200, {"object": "account_link", "created": int(time.time()), "expires_at": int(time.time()) + 300,
                             "url": f"{self.base_url}/setup/e/{params['account']}/{uuid.uuid4().hex[:12]}"}  # fmt: skip

            return await answer(request, "account_link", work)

        @app.post("/v1/transfers")
        async def create_transfer(request: Request) -> JSONResponse:
            params = await form(request)

            def work() -> tuple[int, Any]:
                acct = self.accounts.get(params.get("destination", ""))
                if acct is None:
                    return error("No such destination", "resource_missing")
                if acct["capabilities"]["transfers"] != "active":
                    return error("Your destination account needs to have at least one of the following capabilities "
                                 "enabled: transfers, crypto_transfers, legacy_payments",
                                 "insufficient_capabilities_for_transfer")  # fmt: skip
                done = {"id": f"tr_{uuid.uuid4().hex[:20]}", "object": "transfer", "amount": int(params["amount"]),
                        "currency": params["currency"], "destination": acct["id"], "metadata": params.get("metadata", {})}  # fmt: skip
                self.transfers.append(done)
                return 200, done

            return await answer(request, "transfer", work)

        @app.post("/v1/refunds")
        async def refund(request: Request) -> JSONResponse:
            params = await form(request)

            def work() -> tuple[int, Any]:
                pi = self.intents.get(params.get("payment_intent", ""))
                if pi is None or pi["status"] != "succeeded" or pi["latest_charge"] is None:
                    return error("This PaymentIntent has no successful charge to refund.", "charge_not_refundable")
                charge = pi["latest_charge"]
                amount = int(params.get("amount", charge["amount_captured"] - charge["amount_refunded"]))
                if amount > charge["amount_captured"] - charge["amount_refunded"]:
                    return error("Refund amount is greater than unrefunded amount on charge", "amount_too_large")
                charge["amount_refunded"] += amount
                self.operations.append(("refund", pi["id"], amount))
                return 200, {"id": f"re_{uuid.uuid4().hex[:20]}", "object": "refund", "amount": amount,
                             "payment_intent": pi["id"], "status": "succeeded"}  # fmt: skip

            return await answer(request, "refund", work)

        return app

    # --- money as Stripe sees it --------------------------------------------------------------
    def held_or_taken(self) -> int:
        """Paise Stripe holds or took for us (capturable + received − refunded), all intents."""
        total = 0
        for pi in self.intents.values():
            refunded = pi["latest_charge"]["amount_refunded"] if pi["latest_charge"] else 0
            total += pi["amount_capturable"] + pi["amount_received"] - refunded
        return total

    def fees(self) -> int:
        """Paise Stripe kept as fees."""
        return sum(pi["latest_charge"]["balance_transaction"]["fee"] for pi in self.intents.values() if pi["latest_charge"])


def event(type_: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """A webhook event as Stripe posts it."""
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2025-01-27.acacia",
            "created": int(time.time()), "livemode": False, "type": type_, "data": {"object": obj},
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}}  # fmt: skip


def signed(evt: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook POST, signed as Stripe signs it."""
    body = json.dumps(evt, separators=(",", ":")).encode()
    return body, {"Stripe-Signature": sign(body, secret, at), "Content-Type": "application/json"}
