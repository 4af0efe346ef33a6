"""A real grpc.aio control server on a free port, over an in-memory registry on a fake clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import grpc.aio
import pytest

from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.server import ControlServer
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.testing.registry import FakeClock
from jobqueue.worker.stats import WorkerStats
from tests.registry.conftest import redis_prefix

__all__ = ["redis_prefix"]  # the per-test Redis key prefix fixture, shared

TTL_S = 15.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> InMemoryRegistry:
    return InMemoryRegistry(ttl_s=TTL_S, clock=clock, wall_clock=clock)


@pytest.fixture
async def server(registry: InMemoryRegistry) -> AsyncIterator[ControlServer]:
    async with ControlServer(registry, "127.0.0.1:0", sweep_s=0.1) as server:
        yield server


@pytest.fixture
async def stub(server: ControlServer) -> AsyncIterator[pb_grpc.WorkerServiceAsyncStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield pb_grpc.WorkerServiceStub(channel)


def worker_stats(worker_id: str = "w1", state: str = "active", in_flight: int = 0) -> WorkerStats:
    """What a worker would report."""
    return WorkerStats(
        worker_id=worker_id,
        in_flight=in_flight,
        concurrency=4,
        job_types=("email", "resize"),
        queue="jobs",
        host="node-1",
        pid=os.getpid(),
        version="1.0",
        started_at_unix=1_700_000_000.5,
        processed=12,
        failed=3,
        job_ids=("job-1",) * in_flight,
        state=state,
    )
