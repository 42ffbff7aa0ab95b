"""Sliding-window limits on Redis, shared by every app process of the service.

One sorted set per (limit, key) holds the times of the counted events; a Lua script trims the
window, checks and counts atomically, on the Redis server's clock (so processes on different
machines agree)."""

from __future__ import annotations

import secrets

import redis.asyncio as aioredis

# KEYS[1] the window's sorted set; ARGV: limit, window in microseconds, a unique member.
# Returns 1 when the event was counted, 0 when the key is over its limit.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""


class RedisLimits:
    """`bot.window_limit.Limits` on Redis."""

    def __init__(self, url: str, prefix: str = "ketpaar:") -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix + "limit:"
        self._hit = self._client.register_script(_HIT)

    async def hit(self, name: str, key: str, limit: int, window_s: float) -> bool:
        """Count one event for `key` under the limit `name`; False (not counted) when over."""
        if limit <= 0:
            return True  # 0 turns the limit off, as in memory
        member = secrets.token_hex(8)  # two events in the same microsecond are still two
        counted = await self._hit(keys=[f"{self._prefix}{name}:{key}"], args=[limit, int(window_s * 1_000_000), member])
        return bool(counted)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
