"""The outbox sender: claims due messages, delivers them through their channels, records results."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import timedelta

from bot.channel import ChannelSender, SendResult
from core.ports import Store
from core.shared.clock import Clock
from core.shared.messaging import OutboxRow
from flows.messages import REPLACES, Outbound

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 3600


def backoff_seconds(attempts: int) -> int:
    """Wait after the n-th failed attempt: 2^n seconds, at most an hour (deterministic)."""
    return int(min(2 ** min(attempts, 12), MAX_BACKOFF_S))


class OutboxSender:
    """Delivers pending outbox rows on the channels it has senders for.

    Each run claims due rows (a lease, so a crashed process's rows come back), sends them
    concurrently — the channels keep the providers' rate limits — and records each result in its
    own transaction right after the send, to keep the window for duplicates small. Flood control
    (`retry_after`) is waited out in place when short, else the row is rescheduled without
    counting an attempt. Other transient errors back off 2^attempts s (capped at 1 h); after
    `max_attempts`, or on a permanent error, the row is `failed`, listed and retryable.

    Crash semantics are per channel: see OutboxRepo. Channels in `at_most_once` (e.g. "sms")
    park rows whose sender died mid-send as `unknown`; all others resend them."""

    def __init__(self, store: Store, senders: Mapping[str, ChannelSender], clock: Clock | None = None, *,
                 batch: int = 100, concurrency: int = 50, lease_seconds: float = 120, max_attempts: int = 15,
                 max_inline_wait_s: float = 20, poll_interval_s: float = 0.5,
                 at_most_once: Collection[str] = (),
                 observe: Callable[[str, str], None] | None = None) -> None:  # fmt: skip
        if max_inline_wait_s >= lease_seconds / 2:
            raise ValueError("waiting out flood control in place must stay well inside the lease")
        self.store, self.senders, self.clock = store, dict(senders), clock or store.clock
        self.batch, self.lease_seconds, self.max_attempts = batch, lease_seconds, max_attempts
        self.max_inline_wait_s, self.poll_interval_s = max_inline_wait_s, poll_interval_s
        self.at_most_once = frozenset(at_most_once)
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self.stats: Counter[str] = Counter()  # sent, retried, failed, flood_waits, recovered, held
        # (channel, result) per attempt, result one of sent | retry | rate_limited | failed: metrics
        self.observe: Callable[[str, str], None] = observe or (lambda _channel, _result: None)

    async def run_once(self) -> int:
        """Recover expired claims, claim due rows, deliver them; return how many were claimed."""
        now = self.clock.now()
        async with self.store.uow() as uow:
            requeued, held = await uow.outbox.recover_expired(now, self.at_most_once, list(self.senders))
            rows = await uow.outbox.claim_due(list(self.senders), now, self.batch, self.lease_seconds)
        if requeued or held:
            log.warning("outbox: %d messages whose sender stopped mid-send were requeued, %d held as unknown", requeued, held)
            self.stats.update(recovered=requeued, held=held)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; idle between runs unless woken or a batch was full."""
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                # The database may be away for a moment; nothing is lost (rows stay in the outbox).
                log.exception("outbox run failed; trying again shortly")
                claimed = 0
            if claimed == 0:
                await self._idle(stop)

    def wake(self) -> None:
        """Run again now (e.g. right after a transaction that enqueued messages)."""
        self._wake.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.poll_interval_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._wake.clear()

    async def list_failed(self, limit: int = 100) -> list[OutboxRow]:
        """Messages given up on or of unknown fate, newest first (`ketpaar outbox failed`)."""
        async with self.store.reader() as uow:
            return await uow.outbox.failed(limit)

    async def retry(self, ids: Iterable[int] | None = None) -> int:
        """Queue failed/unknown messages again (these ids, or all); return how many."""
        async with self.store.uow() as uow:
            count = await uow.outbox.retry_failed(ids)
        self.wake()
        return count

    async def _deliver(self, row: OutboxRow) -> None:
        async with self._slots:
            result = await self._send(row)
        try:
            await self._record(row, result)
        except Exception:
            # The row stays `sending`; when its lease expires, recovery requeues or holds it.
            log.exception("outbox %s: could not record the result of sending it", row.id)

    async def _send(self, row: OutboxRow) -> SendResult:
        sender = self.senders[row.channel]
        message = Outbound.from_payload(row.payload)
        if (edited := await self._edit(row, sender, message)) is not None:
            return edited
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_inline_wait_s
        while True:
            try:
                result = await sender.send(row.address, message, outbox_id=row.id)
            except Exception as exc:
                # A sender must report, not raise; if one does, the row is retried and the bug logged.
                log.exception("outbox %s: the %s sender raised", row.id, row.channel)
                return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
            if result.ok or result.retry_after is None or loop.time() + result.retry_after > deadline:
                return result
            self.stats["flood_waits"] += 1
            self.observe(row.channel, "rate_limited")
            await asyncio.sleep(result.retry_after)

    async def _edit(self, row: OutboxRow, sender: ChannelSender, message: Outbound) -> SendResult | None:
        """A message with meta {"replaces": key} edits the last one sent to the same address under
        that key, where the channel can edit (Telegram); None: send it as a new message instead
        (nothing sent before, or the old message is gone)."""
        key, edit = message.meta.get(REPLACES), getattr(sender, "edit", None)
        if not isinstance(key, str) or edit is None:
            return None
        async with self.store.reader() as uow:
            earlier = [r for r in await uow.outbox.sent_with_meta(row.channel, REPLACES, key, row.address)
                       if r.provider_message_id]  # fmt: skip
        if not earlier:
            return None
        previous = str(max(earlier, key=lambda r: r.id).provider_message_id)
        try:
            result: SendResult = await edit(row.address, previous, message)
        except Exception as exc:
            log.exception("outbox %s: the %s editor raised", row.id, row.channel)
            return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if result.permanent_error:
            log.info("outbox %s: could not edit message %s (%s); sending a new one", row.id, previous, result.permanent_error)
            return None
        return result

    async def _record(self, row: OutboxRow, result: SendResult) -> None:
        now = self.clock.now()
        async with self.store.uow() as uow:
            if result.ok:
                await uow.outbox.mark_sent(row.id, result.provider_message_id)
                self.stats["sent"] += 1
                outcome = "sent"
            elif result.permanent_error:
                await uow.outbox.mark_failed(row.id, result.permanent_error)
                self.stats["failed"] += 1
                outcome = "failed"
            elif result.retry_after is not None:
                await uow.outbox.mark_retry(row.id, result.error or "flood control",
                                            now + timedelta(seconds=result.retry_after), count_attempt=False)  # fmt: skip
                self.stats["retried"] += 1
                outcome = "rate_limited"
            elif row.attempts >= self.max_attempts:
                await uow.outbox.mark_failed(row.id, f"gave up after {row.attempts} attempts: {result.error}")
                self.stats["failed"] += 1
                outcome = "failed"
            else:
                delay = timedelta(seconds=backoff_seconds(row.attempts))
                await uow.outbox.mark_retry(row.id, result.error or "not delivered", now + delay)
                self.stats["retried"] += 1
                outcome = "retry"
        self.observe(row.channel, outcome)
        if not result.ok:
            # the outbox id, not the address: an address may be a phone number
            log.warning("outbox %s on %s not delivered (attempt %d): %s", row.id, row.channel,
                        row.attempts, result.permanent_error or result.error)  # fmt: skip
