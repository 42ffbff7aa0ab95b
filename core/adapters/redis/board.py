"""The job board on Redis: a sorted set of open jobs per zone, Lua scripts for atomic changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from core.board.base import BoardEntry, ClaimResult, Job

# Keys, under the prefix:
#   board:zone:{zone}     sorted set of OPEN order ids, score = posted_at
#   board:job:{order_id}  hash: zone, posted_at, payload (JSON), claimed_by (absent when open)
#   board:all             set of every order id on the board
#   board:events          pub/sub channel announcing each change
#
# claim, release and remove learn the zone from the job hash, so those scripts build the zone
# key from the prefix passed in ARGV. That is fine on one Redis server; a Redis Cluster would
# need every key declared up front (and hash tags to keep them on one slot).

_POST = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'zone', ARGV[2], 'posted_at', ARGV[3], 'payload', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

# Returns {status, winner, zone}: 1 = this worker just won, 0 = already claimed (winner says
# by whom), -1 = no such job.
_CLAIM = """
local job = redis.call('HMGET', KEYS[1], 'zone', 'claimed_by')
if not job[1] then return {-1, '', ''} end
if job[2] then return {0, job[2], job[1]} end
redis.call('HSET', KEYS[1], 'claimed_by', ARGV[1])
redis.call('ZREM', ARGV[3] .. job[1], ARGV[2])
return {1, ARGV[1], job[1]}
"""

# Returns {zone, former claimer}, or nil when there was no claimed job to reopen.
_RELEASE = """
local job = redis.call('HMGET', KEYS[1], 'zone', 'posted_at', 'claimed_by')
if not job[1] or not job[3] then return false end
redis.call('HDEL', KEYS[1], 'claimed_by')
redis.call('ZADD', ARGV[2] .. job[1], job[2], ARGV[1])
return {job[1], job[3]}
"""

# Returns {zone, claimer or ''}, or nil when the job was not on the board.
_REMOVE = """
local job = redis.call('HMGET', KEYS[1], 'zone', 'claimed_by')
if not job[1] then return false end
redis.call('ZREM', ARGV[2] .. job[1], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return {job[1], job[2] or ''}
"""

_JOB_FIELDS = ("zone", "posted_at", "payload", "claimed_by")


def _optional_int(value: str | None) -> int | None:
    """Parse a worker id that Redis holds as a string, '' or absent meaning none."""
    return int(value) if value else None


class BoardEvents(AsyncIterator[dict[str, Any]]):
    """The board's change messages from one confirmed Redis subscription."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._closed = False

    def __aiter__(self) -> BoardEvents:
        """Iterate over the messages themselves."""
        return self

    async def __anext__(self) -> dict[str, Any]:
        """Wait for the next board change message."""
        while not self._closed:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None and message["type"] == "message":
                event: dict[str, Any] = json.loads(message["data"])
                return event
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Unsubscribe and give the connection back."""
        if self._closed:
            return
        self._closed = True
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> BoardEvents:
        """Use as `async with await board.subscribe() as events:`."""
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Unsubscribe on leaving the block."""
        await self.aclose()


class RedisJobBoard:
    """A JobBoard shared by every app process through one Redis server."""

    def __init__(self, url: str, prefix: str = "ketpaar:") -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._all_key = f"{prefix}board:all"
        self._channel = f"{prefix}board:events"
        self._post = self._client.register_script(_POST)
        self._claim = self._client.register_script(_CLAIM)
        self._release = self._client.register_script(_RELEASE)
        self._remove = self._client.register_script(_REMOVE)

    async def ping(self) -> None:
        """Raise unless Redis answers (the readiness probe)."""
        await self._client.ping()

    def _zone_key(self, zone: str) -> str:
        """The sorted set of open jobs in one zone."""
        return f"{self._prefix}board:zone:{zone}"

    def _job_key(self, order_id: int) -> str:
        """The hash describing one job."""
        return f"{self._prefix}board:job:{order_id}"

    async def _announce(
        self, event: str, order_id: int, zone: str, worker_id: int | None = None
    ) -> None:
        """Tell every subscribed process that the board changed."""
        message = {"event": event, "order_id": order_id, "zone": zone, "worker_id": worker_id}
        await self._client.publish(self._channel, json.dumps(message))

    async def post(self, job: Job) -> None:
        """Put a job on the board; a repeat post keeps the first posting time."""
        added = await self._post(
            keys=[self._job_key(job.order_id), self._zone_key(job.zone), self._all_key],
            # repr() of a float round-trips exactly, so the score equals posted_at.
            args=[job.order_id, job.zone, repr(job.posted_at), json.dumps(job.payload)],
        )
        if added:  # a repeat post changed nothing, so there is nothing to announce
            await self._announce("posted", job.order_id, job.zone)

    async def open_jobs(self, zones: Sequence[str]) -> list[Job]:
        """Every unclaimed job in these zones, oldest first, ties by order id."""
        if not zones:
            return []
        async with self._client.pipeline(transaction=True) as pipe:
            for zone in zones:
                pipe.zrange(self._zone_key(zone), 0, -1)
            per_zone: list[list[str]] = await pipe.execute()
        order_ids = sorted({int(member) for members in per_zone for member in members})
        entries = await self._load(order_ids)
        # A job claimed or removed since the ZRANGE is skipped rather than shown as open.
        jobs = [entry.job for entry in entries if entry.claimed_by is None]
        # Sorted here: equal scores are ordered as strings by Redis, but ties go by order id.
        return sorted(jobs, key=lambda job: (job.posted_at, job.order_id))

    async def _load(self, order_ids: Sequence[int]) -> list[BoardEntry]:
        """Read these jobs' hashes in one round trip, skipping any that have gone."""
        async with self._client.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.hmget(self._job_key(order_id), list(_JOB_FIELDS))
            rows: list[list[str | None]] = await pipe.execute()
        entries = []
        for order_id, (zone, posted_at, payload, claimed_by) in zip(order_ids, rows, strict=True):
            if zone is None or posted_at is None or payload is None:
                continue
            job = Job(order_id, zone, float(posted_at), json.loads(payload))
            entries.append(BoardEntry(job=job, claimed_by=_optional_int(claimed_by)))
        return entries

    async def claim(self, order_id: int, worker_id: int) -> ClaimResult:
        """Claim atomically in one Lua script: the first claimer wins, later ones learn who."""
        status, winner, zone = await self._claim(
            keys=[self._job_key(order_id)],
            args=[worker_id, order_id, f"{self._prefix}board:zone:"],
        )
        if int(status) == 1:
            await self._announce("claimed", order_id, zone, worker_id)
            return ClaimResult(order_id, won=True, winner=worker_id)
        winner_id = _optional_int(winner)
        return ClaimResult(order_id, won=winner_id == worker_id, winner=winner_id)

    async def release(self, order_id: int) -> None:
        """Reopen a claimed job at its original place in its zone."""
        released = await self._release(
            keys=[self._job_key(order_id)], args=[order_id, f"{self._prefix}board:zone:"]
        )
        if released:
            zone, former = released
            await self._announce("released", order_id, zone, _optional_int(former))

    async def remove(self, order_id: int) -> None:
        """Take a job off the board; removing a missing job is a no-op."""
        removed = await self._remove(
            keys=[self._job_key(order_id), self._all_key],
            args=[order_id, f"{self._prefix}board:zone:"],
        )
        if removed:
            zone, claimer = removed
            await self._announce("removed", order_id, zone, _optional_int(claimer))

    async def entries(self) -> list[BoardEntry]:
        """Every job on the board with its claimer, oldest first."""
        members = await self._client.smembers(self._all_key)
        entries = await self._load(sorted(int(member) for member in members))
        return sorted(entries, key=lambda entry: (entry.job.posted_at, entry.job.order_id))

    async def subscribe(self) -> BoardEvents:
        """Subscribe to board changes; every change announced after this returns is delivered."""
        pubsub = self._client.pubsub()
        events = BoardEvents(pubsub)
        try:
            await pubsub.subscribe(self._channel)
            # SUBSCRIBE is only in force once the server confirms it; waiting here is what
            # lets a caller subscribe, then read the board, and miss nothing in between.
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is not None and message["type"] == "subscribe":
                    return events
        except BaseException:
            await events.aclose()
            raise

    async def close(self) -> None:
        """Close the client and its connection pool."""
        await self._client.aclose()
