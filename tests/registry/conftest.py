"""Redis registries on a key prefix of their own per test, deleted afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from jobqueue.registry.redis import RedisRegistry
from tests.services import REDIS_URL

MakeRedisRegistry = Callable[..., RedisRegistry]


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys are deleted when the test ends."""
    prefix = f"jobqueue-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def make_redis_registry(redis_prefix: str) -> MakeRedisRegistry:
    """Build Redis registries on the test's prefix: ``make(ttl_s=..., clock=...)``."""

    def make(**kwargs: object) -> RedisRegistry:
        return RedisRegistry.from_url(REDIS_URL, key_prefix=redis_prefix, **kwargs)  # type: ignore[arg-type]

    return make
