"""The limits in Redis, beside the worker registry: shared by every API replica.

Layout under the registry's key prefix (``jobqueue:registry:`` by default):

- ``<prefix>limit:slots:<name>``: a sorted set, slot id → when its lease ends (Unix seconds);
- ``<prefix>limit:bucket:<name>``: a hash, ``tokens`` and ``at`` (when they were counted).

Taking a slot and a start is one Lua script, so it is atomic whatever the number of API
processes; the clock is Redis's own ``TIME``. Both keys expire on their own once idle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import redis.asyncio as aioredis

from jobqueue.limits.backend import FULL, GRANTED, Grant, Slot, SlotRequest
from jobqueue.registry.redis import DEFAULT_KEY_PREFIX, redis_client, redis_errors

MAX_CONNECTIONS = 16

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: slots, bucket. ARGV: slot id, concurrency ('' for none), rate ('' for none), lease s.
# Answers {1} granted, {0, 'concurrency'} or {0, 'rate', seconds until a start} refused.
_ACQUIRE = (
    _NOW
    + """
local limit = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local lease_ms = math.ceil(lease * 1000) + 1000
if limit then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], lease_ms)
    return {1}
  end
  if redis.call('ZCARD', KEYS[1]) >= limit then return {0, 'concurrency'} end
end
if rate then
  local capacity = math.max(1, rate)
  local bucket = redis.call('HMGET', KEYS[2], 'tokens', 'at')
  local tokens = tonumber(bucket[1]) or capacity
  local at = tonumber(bucket[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then return {0, 'rate', tostring((1 - tokens) / rate)} end
  redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - 1), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[2], math.ceil(capacity / rate * 1000) + 1000)
end
if limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease_ms)
end
return {1}
"""
)

# KEYS: the slots sets; ARGV: lease s, then one slot id per key. Only slots still held.
_RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local until_ = redis.call('ZSCORE', key, ARGV[i + 1])
  if until_ and tonumber(until_) > now then
    redis.call('ZADD', key, now + lease, ARGV[i + 1])
    redis.call('PEXPIRE', key, math.ceil(lease * 1000) + 1000)
  end
end
return 1
"""
)


class RedisLimits:
    """Slots and buckets in the Redis server ``client`` talks to, under ``key_prefix``."""

    def __init__(
        self, client: aioredis.Redis, key_prefix: str = DEFAULT_KEY_PREFIX, url: str = "redis://"
    ) -> None:
        self._redis = client
        self._url = url
        self._prefix = f"{key_prefix}limit:"
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)

    @classmethod
    def from_url(cls, url: str, key_prefix: str = DEFAULT_KEY_PREFIX) -> RedisLimits:
        """Connect lazily to the registry's Redis (its ``key_prefix`` query parameter too)."""
        client, url, key_prefix = redis_client(url, key_prefix, MAX_CONNECTIONS)
        return cls(client, key_prefix, url)

    def _slots_key(self, name: str) -> str:
        return f"{self._prefix}slots:{name}"

    async def acquire(self, request: SlotRequest) -> Grant:
        """Take a slot and a start, both or neither, in one script."""
        keys = [self._slots_key(request.name), f"{self._prefix}bucket:{request.name}"]
        args = [
            request.slot_id,
            "" if request.concurrency is None else request.concurrency,
            "" if request.rate_per_s is None else repr(request.rate_per_s),
            repr(request.lease_s),
        ]
        async with self._errors():
            answer = await self._acquire(keys=keys, args=args)
        if int(answer[0]) == 1:
            return GRANTED
        if answer[1] == "rate":
            return Grant(False, "rate", float(answer[2]))
        return FULL

    async def release(self, slots: Sequence[Slot]) -> None:
        """Give slots back (one pipelined round trip)."""
        if not slots:
            return
        async with self._errors(), self._redis.pipeline(transaction=False) as pipe:
            for name, slot_id in slots:
                pipe.zrem(self._slots_key(name), slot_id)
            await pipe.execute()

    async def renew(self, slots: Sequence[Slot], lease_s: float) -> None:
        """Push the leases of slots still held, in one script."""
        if not slots:
            return
        keys = [self._slots_key(name) for name, _ in slots]
        async with self._errors():
            await self._renew(keys=keys, args=[repr(lease_s), *(slot for _, slot in slots)])

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    def _errors(self) -> contextlib.AbstractAsyncContextManager[None]:
        return redis_errors("limits", self._url)
