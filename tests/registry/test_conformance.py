"""Every registry backend passes the same conformance suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobqueue.registry import Registry
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.testing.registry import REGISTRY_CHECKS, RegistryCheck
from tests.registry.conftest import MakeRedisRegistry

CHECKS = pytest.mark.parametrize("check", REGISTRY_CHECKS, ids=lambda check: check.__name__)


@CHECKS
async def test_in_memory_registry_conforms(check: RegistryCheck) -> None:
    await check(
        lambda ttl_s, clock, max_workers: InMemoryRegistry(
            ttl_s=ttl_s, clock=clock, wall_clock=clock, max_workers=max_workers
        )
    )


@pytest.mark.redis
@CHECKS
async def test_redis_registry_conforms(
    check: RegistryCheck, make_redis_registry: MakeRedisRegistry
) -> None:
    def make(ttl_s: float, clock: Callable[[], float], max_workers: int) -> Registry:
        return make_redis_registry(ttl_s=ttl_s, clock=clock, max_workers=max_workers)

    await check(make)
