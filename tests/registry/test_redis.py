"""What the Redis registry does beyond the conformance suite: Redis time, sharing, failures."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from jobqueue.errors import RegistryUnavailable
from jobqueue.registry import Command, WorkerReport
from jobqueue.registry.redis import RedisRegistry
from tests.control.polling import eventually
from tests.registry.conftest import MakeRedisRegistry
from tests.services import REDIS_URL

pytestmark = pytest.mark.redis


async def test_two_registries_on_one_redis_share_workers_and_commands(
    make_redis_registry: MakeRedisRegistry,
) -> None:
    first, second = make_redis_registry(), make_redis_registry()
    try:
        await first.register("w1", WorkerReport(load=1))
        assert [w.worker_id for w in await second.workers()] == ["w1"]
        assert await second.send_command("w1", Command.DRAIN) is True
        assert (await first.heartbeat("w1", WorkerReport())).command is Command.DRAIN
        assert (await second.heartbeat("w1", WorkerReport())).command is None
        assert await second.deregister("w1") is True
        assert await first.get("w1") is None
    finally:
        await first.close()
        await second.close()


async def test_with_redis_time_last_seen_is_the_wall_clock(
    make_redis_registry: MakeRedisRegistry,
) -> None:
    registry = make_redis_registry()
    try:
        before = time.time()
        await registry.register("w1", WorkerReport())
        info = await registry.get("w1")
        assert info is not None
        # Redis runs on this machine: its clock is ours, within scheduling noise.
        assert before - 1 <= info.last_seen_unix <= time.time() + 1
    finally:
        await registry.close()


async def test_with_redis_time_worker_keys_expire_in_redis_too(
    make_redis_registry: MakeRedisRegistry, redis_prefix: str
) -> None:
    registry = make_redis_registry(ttl_s=15)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await registry.register("w1", WorkerReport())
        await registry.send_command("w1", Command.PAUSE)
        for key in (f"{redis_prefix}worker:w1", f"{redis_prefix}command:w1"):
            assert 0 < await client.pttl(key) <= 30_000
    finally:
        await registry.close()
        await client.aclose()


async def test_with_redis_time_a_silent_worker_expires(
    make_redis_registry: MakeRedisRegistry,
) -> None:
    registry = make_redis_registry(ttl_s=0.2)
    try:
        await registry.register("w1", WorkerReport())
        assert await registry.get("w1") is not None

        async def gone() -> bool:
            return await registry.workers() == []

        await eventually(gone, timeout_s=5, what="expiry")
        assert await registry.get("w1") is None
    finally:
        await registry.close()


async def test_an_unreachable_redis_is_registry_unavailable_without_the_password() -> None:
    registry = RedisRegistry.from_url("redis://:s3cret@127.0.0.1:1/0")
    try:
        for call in (registry.workers(), registry.register("w1", WorkerReport())):
            with pytest.raises(RegistryUnavailable) as caught:
                await call
            assert "s3cret" not in str(caught.value)
    finally:
        await registry.close()


async def test_a_key_prefix_in_the_url_keeps_registries_apart(redis_prefix: str) -> None:
    base = REDIS_URL + ("&" if "?" in REDIS_URL else "?")
    first = RedisRegistry.from_url(f"{base}key_prefix={redis_prefix}a:")
    second = RedisRegistry.from_url(f"{base}key_prefix={redis_prefix}b:")
    same_as_first = RedisRegistry.from_url(f"{base}key_prefix={redis_prefix}a:")
    try:
        await first.register("w1", WorkerReport())
        assert await second.workers() == []
        assert [w.worker_id for w in await same_as_first.workers()] == ["w1"]
    finally:
        for registry in (first, second, same_as_first):
            await registry.close()


async def test_a_burst_of_heartbeats_beyond_the_connection_pool_waits_instead_of_failing(
    make_redis_registry: MakeRedisRegistry,
) -> None:
    registry = make_redis_registry()
    try:
        results = await asyncio.gather(
            *(registry.heartbeat(f"w{n:03d}", WorkerReport(load=1)) for n in range(300))
        )
        assert all(not result.known for result in results)
        assert len(await registry.workers()) == 300
    finally:
        await registry.close()
