"""Session hashes in Redis, shared by every API process of one registry.

One string key per worker id, ``<prefix>session:<id>`` (the registry's key prefix), holding the
secret's SHA-256 and expiring with Redis's own clock ``ttl_s`` after it was last written, as the
worker's registration does. The secret is compared in Python (``hmac.compare_digest``); the
write is a Lua compare-and-swap on the hash read, so two API processes never both win.
"""

from __future__ import annotations

import contextlib
import math

import redis.asyncio as aioredis

from jobqueue.config import WORKER_TTL_S
from jobqueue.registry.redis import DEFAULT_KEY_PREFIX, redis_client, redis_errors

__all__ = ["RedisSessionStore"]

MAX_CONNECTIONS = 8

# KEYS: the session. ARGV: the hash expected ('' for none), the new one ('' to end), ttl ms.
_SWAP = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""


class RedisSessionStore:
    """Session hashes under ``key_prefix`` in the Redis server a client talks to."""

    def __init__(
        self,
        client: aioredis.Redis,
        ttl_s: float = WORKER_TTL_S,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        url: str = "redis://",
    ) -> None:
        self._redis = client
        self._ttl_ms = max(1, math.ceil(ttl_s * 1000))
        self._prefix = f"{key_prefix}session:"
        self._url = url
        self._swap = client.register_script(_SWAP)

    @classmethod
    def from_url(
        cls, url: str, ttl_s: float = WORKER_TTL_S, key_prefix: str = DEFAULT_KEY_PREFIX
    ) -> RedisSessionStore:
        """Connect lazily to the registry's Redis (its ``key_prefix`` query parameter too)."""
        client, url, key_prefix = redis_client(url, key_prefix, MAX_CONNECTIONS)
        return cls(client, ttl_s=ttl_s, key_prefix=key_prefix, url=url)

    async def get(self, worker_id: str) -> str | None:
        """The live session's hash, or None."""
        async with self._errors():
            stored = await self._redis.get(self._prefix + worker_id)
        return None if stored is None else str(stored)

    async def swap(self, worker_id: str, expected: str | None, new: str | None) -> bool:
        """Compare-and-swap the hash, restarting its TTL (see ``SessionStore``)."""
        args: list[str | int] = [expected or "", new or "", self._ttl_ms]
        async with self._errors():
            swapped = await self._swap(keys=[self._prefix + worker_id], args=args)
        return bool(swapped)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    def _errors(self) -> contextlib.AbstractAsyncContextManager[None]:
        return redis_errors("worker sessions", self._url)
