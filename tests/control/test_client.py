"""The worker's control client against a real server: start order, restarts, commands, stop."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from jobqueue.control.client import ControlClient
from jobqueue.control.server import ControlServer
from jobqueue.registry import Command, WorkerState
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.worker.stats import WorkerStats
from tests.control.conftest import worker_stats
from tests.control.polling import eventually
from tests.services import free_port

INTERVAL_S = 0.1


class FakeWorker:
    """Just enough of a worker: stats that follow the commands it was given."""

    def __init__(self, worker_id: str = "w1") -> None:
        self.worker_id = worker_id
        self.state = "active"
        self.in_flight = 2
        self.commands: list[str] = []

    def stats(self) -> WorkerStats:
        return worker_stats(self.worker_id, self.state, self.in_flight)

    def on_command(self, command: str) -> None:
        self.commands.append(command)
        self.state = {"pause": "paused", "resume": "active", "drain": "draining"}[command]

    def client(self, port: int, rpc_timeout_s: float = 1.0) -> ControlClient:
        return ControlClient(
            f"127.0.0.1:{port}",
            self.stats,
            self.on_command,
            interval_s=INTERVAL_S,
            rpc_timeout_s=rpc_timeout_s,
        )


@pytest.fixture
def worker() -> FakeWorker:
    return FakeWorker()


@pytest.fixture
async def live_server() -> AsyncIterator[ControlServer]:
    async with ControlServer(InMemoryRegistry(), "127.0.0.1:0") as server:
        yield server


async def _listed(registry: InMemoryRegistry | object, worker_id: str = "w1") -> bool:
    assert isinstance(registry, InMemoryRegistry)
    return await registry.get(worker_id) is not None


async def test_heartbeats_report_load_and_every_detail(
    live_server: ControlServer, worker: FakeWorker
) -> None:
    client = worker.client(live_server.port)
    await client.start()
    try:
        await eventually(lambda: _listed(live_server.registry), what="registration")
        info = await live_server.registry.get("w1")
        assert info is not None
        expected = worker.stats()
        report = info.report
        assert report.load == expected.in_flight == 2
        for name in ("concurrency", "job_types", "queue", "host", "pid", "version"):
            assert getattr(report, name) == getattr(expected, name), name
        assert (report.processed, report.failed, report.job_ids) == (12, 3, ("job-1", "job-1"))
        assert report.started_at_unix == expected.started_at_unix
    finally:
        await client.stop()


async def test_a_worker_started_before_the_api_shows_up_once_the_api_starts(
    worker: FakeWorker,
) -> None:
    port = free_port()
    client = worker.client(port, rpc_timeout_s=0.3)
    async with asyncio.timeout(1):
        await client.start()  # returns at once, though nothing listens yet
    assert not client.registered
    try:
        await asyncio.sleep(0.5)  # let registration fail a few times first
        registry = InMemoryRegistry()
        async with ControlServer(registry, f"127.0.0.1:{port}"):
            await eventually(lambda: _listed(registry), what="registration after API start")
    finally:
        await client.stop()


async def test_a_worker_is_listed_again_after_an_api_restart(worker: FakeWorker) -> None:
    port = free_port()
    client = worker.client(port, rpc_timeout_s=0.3)
    first = InMemoryRegistry()
    async with ControlServer(first, f"127.0.0.1:{port}"):
        await client.start()
        await eventually(lambda: _listed(first), what="first registration")
    try:
        await asyncio.sleep(3 * INTERVAL_S)  # heartbeats fail while the API is down
        second = InMemoryRegistry()  # a restarted API has forgotten every worker
        async with ControlServer(second, f"127.0.0.1:{port}"):
            await eventually(lambda: _listed(second), what="heartbeat re-registration")
            info = await second.get("w1")
            assert info is not None
            assert info.report.concurrency == 4  # the heartbeat brought every detail along
    finally:
        await client.stop()


async def test_pause_resume_and_drain_reach_the_worker_and_its_state_follows(
    live_server: ControlServer, worker: FakeWorker
) -> None:
    registry = live_server.registry
    client = worker.client(live_server.port)
    await client.start()
    try:
        await eventually(lambda: _listed(registry), what="registration")
        for command, state in [
            (Command.PAUSE, WorkerState.PAUSED),
            (Command.RESUME, WorkerState.ACTIVE),
            (Command.DRAIN, WorkerState.DRAINING),
        ]:
            assert await registry.send_command("w1", command)

            async def reported(state: WorkerState = state) -> bool:
                info = await registry.get("w1")
                return info is not None and info.state is state

            await eventually(reported, what=f"state {state} after {command}")
        assert worker.commands == ["pause", "resume", "drain"]
    finally:
        await client.stop()


async def test_stop_deregisters_the_worker(live_server: ControlServer, worker: FakeWorker) -> None:
    client = worker.client(live_server.port)
    await client.start()
    await eventually(lambda: _listed(live_server.registry), what="registration")
    await client.stop()
    assert await live_server.registry.workers() == []


async def test_stop_returns_within_its_deadline_when_the_api_is_gone(worker: FakeWorker) -> None:
    port = free_port()
    registry = InMemoryRegistry()
    client = worker.client(port, rpc_timeout_s=0.3)
    async with ControlServer(registry, f"127.0.0.1:{port}"):
        await client.start()
        await eventually(lambda: _listed(registry), what="registration")
    async with asyncio.timeout(5):
        await client.stop()


async def test_stop_before_registration_returns_at_once(worker: FakeWorker) -> None:
    client = worker.client(free_port(), rpc_timeout_s=0.3)
    await client.start()
    async with asyncio.timeout(5):
        await client.stop()


async def test_a_failing_stats_call_does_not_end_the_heartbeats(
    live_server: ControlServer, worker: FakeWorker
) -> None:
    calls = 0

    def flaky_stats() -> WorkerStats:
        nonlocal calls
        calls += 1
        if calls in (2, 3):
            raise RuntimeError("stats broke")
        return dataclasses.replace(worker.stats(), in_flight=calls)

    client = ControlClient(
        f"127.0.0.1:{live_server.port}", flaky_stats, worker.on_command, interval_s=INTERVAL_S
    )
    await client.start()
    try:

        async def recovered() -> bool:
            info = await live_server.registry.get("w1")
            return info is not None and info.report.load > 3

        await eventually(recovered, what="heartbeats after stats failed")
    finally:
        await client.stop()
