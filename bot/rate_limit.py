"""Async rate limits for a chat provider: one bucket for the whole bot, one per chat."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """A token bucket kept as a schedule (GCRA): each caller reserves its own start time.

    Reserving instead of polling means 300 waiting senders sleep once each, instead of all
    waking for every token. `pause` (a provider's "retry after") moves the schedule past the
    pause and invalidates earlier reservations, so waiters re-queue instead of bursting."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least 1")
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.tat = float("-inf")  # theoretical arrival time of the next conforming request
        self.gone_tat = float("-inf")  # the same, by when callers actually went
        self.paused_until = float("-inf")
        self.epoch = 0  # bumped by every pause; a reservation from an older epoch is void

    def reserve(self, now: float) -> float:
        """Book the next slot; return the absolute time at which the caller may go."""
        go_at = max(now, self.tat - self.tolerance, self.paused_until)
        self.tat = max(self.tat, go_at) + self.interval
        return go_at

    def pause(self, now: float, seconds: float) -> None:
        """Nobody goes before now + seconds; afterwards the bucket restarts without a burst."""
        self.paused_until = max(self.paused_until, now + max(seconds, 0.0))
        self.tat = self.gone_tat = self.paused_until + self.tolerance
        self.epoch += 1

    def idle(self, now: float) -> bool:
        """True when the bucket is full and not paused (it can be forgotten)."""
        return max(self.tat, self.gone_tat) - self.tolerance <= now and self.paused_until <= now

    async def wait(self, clock: Clock, sleep: Sleep) -> None:
        """Wait for a slot, re-queueing if a pause arrives while waiting."""
        while True:
            epoch, go_at = self.epoch, self.reserve(clock())
            delay = go_at - clock()
            if delay > 0:
                await sleep(delay)
            if self.epoch != epoch:
                continue
            # A busy event loop can wake several callers whose slots have all passed at once;
            # spacing them by when they really go keeps that from becoming a burst.
            while (early := max(self.gone_tat - self.tolerance, self.paused_until) - clock()) > 0:
                await sleep(early)
            self.gone_tat = max(self.gone_tat, clock()) + self.interval
            return


class ChatRateLimiter:
    """Telegram's limits: about 30 messages a second per bot, about 1 a second per chat.

    `acquire(chat)` waits for the chat's slot, then for the bot's. A 429 `retry_after` pauses
    that chat and the whole bot (as python-telegram-bot's own AIORateLimiter does): Telegram's
    flood control does not say which limit was hit, and pausing everything is what it asks."""

    def __init__(self, per_second: float = 30, per_chat_per_second: float = 1, *, burst: int = 1,
                 chat_burst: int = 3, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep,
                 max_idle_chats: int = 10_000) -> None:  # fmt: skip
        # A chat may get a short burst (a reply in two parts); Telegram tolerates that and asks
        # for about one a second on average. The bot as a whole is spread evenly.
        self.overall = TokenBucket(per_second, burst)
        self.per_chat_per_second, self.chat_burst = per_chat_per_second, chat_burst
        self.clock, self.sleep = clock, sleep
        self.max_idle_chats = max_idle_chats
        self._chats: dict[str, TokenBucket] = {}
        self.pauses = 0  # how many times the provider asked us to slow down

    def _chat(self, chat: str) -> TokenBucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) >= self.max_idle_chats:
                self._forget_idle()
            bucket = self._chats[chat] = TokenBucket(self.per_chat_per_second, self.chat_burst)
        return bucket

    def _forget_idle(self) -> None:
        now = self.clock()
        for chat in [c for c, b in self._chats.items() if b.idle(now)]:
            del self._chats[chat]

    async def acquire(self, chat: str | None = None) -> None:
        """Wait until one more request to `chat` (or to no chat in particular) is allowed."""
        if chat is not None:
            await self._chat(chat).wait(self.clock, self.sleep)
        await self.overall.wait(self.clock, self.sleep)

    def retry_after(self, seconds: float, chat: str | None = None) -> None:
        """The provider said "too many requests, retry after `seconds`"."""
        now = self.clock()
        self.pauses += 1
        self.overall.pause(now, seconds)
        if chat is not None:
            self._chat(chat).pause(now, seconds)
