"""Every limits backend keeps the same promises: in memory, in Redis, in SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jobqueue.limits.backend import LimitBackend, SlotRequest
from jobqueue.limits.memory import MemoryLimits
from jobqueue.limits.redis import RedisLimits
from jobqueue.limits.store import StoreLimits
from tests.registry.conftest import redis_prefix
from tests.services import REDIS_URL
from tests.store.conftest import open_store, postgres_store

__all__ = ["redis_prefix"]


def ask(
    slot_id: str, concurrency: int | None = 2, rate: float | None = None, lease_s: float = 30
) -> SlotRequest:
    return SlotRequest("sync\x1fcustomer:42", slot_id, "w1", concurrency, rate, lease_s)


async def check_backend(backend: LimitBackend) -> None:
    """The promises every backend keeps (the lease's end takes a second and a bit)."""
    assert (await backend.acquire(ask("a"))).granted
    assert (await backend.acquire(ask("b"))).granted
    full = await backend.acquire(ask("c"))
    assert (full.granted, full.reason) == (False, "concurrency")
    assert (await backend.acquire(ask("a"))).granted, "a slot asked for again is still held"
    other = SlotRequest("sync\x1fcustomer:7", "c", "w1", 2, None, 30)
    assert (await backend.acquire(other)).granted, "another key is not blocked"
    await backend.release([("sync\x1fcustomer:42", "a")])
    assert (await backend.acquire(ask("c"))).granted
    await backend.release([("sync\x1fcustomer:42", "b"), ("sync\x1fcustomer:42", "c")])
    # A rate of 2 a second: two starts at once, then none until the bucket refills.
    paced = [await backend.acquire(ask(f"r{i}", concurrency=None, rate=2.0)) for i in range(3)]
    assert [grant.granted for grant in paced] == [True, True, False]
    assert paced[2].reason == "rate"
    assert 0 < paced[2].retry_after_s <= 0.5
    # A lease that is not renewed ends: its slot is free again.
    assert (await backend.acquire(ask("dead", concurrency=1, lease_s=1.0))).granted
    await backend.renew([("sync\x1fcustomer:42", "dead")], 1.0)
    assert not (await backend.acquire(ask("next", concurrency=1))).granted
    await asyncio.sleep(1.2)
    assert (await backend.acquire(ask("next", concurrency=1))).granted


async def test_memory_limits_keep_the_promises() -> None:
    await check_backend(MemoryLimits())


@pytest.mark.redis
async def test_redis_limits_keep_the_promises(redis_prefix: str) -> None:
    backend = RedisLimits.from_url(REDIS_URL, key_prefix=redis_prefix)
    try:
        await check_backend(backend)
    finally:
        await backend.close()


async def test_sqlite_store_limits_keep_the_promises(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        await check_backend(StoreLimits(store))


@pytest.mark.postgres
async def test_postgres_store_limits_keep_the_promises() -> None:
    async with postgres_store() as store:
        await check_backend(StoreLimits(store))


@pytest.mark.postgres
async def test_postgres_acquisitions_at_once_never_exceed_the_limit() -> None:
    async with postgres_store() as store:
        backend = StoreLimits(store)
        grants = await asyncio.gather(*(backend.acquire(ask(f"j{i}", 3)) for i in range(12)))
        assert sum(grant.granted for grant in grants) == 3
