"""A worker and a real gRPC control plane: registered while it runs, commanded, deregistered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobqueue.brokers import Broker, QueueDepth
from jobqueue.control.server import ControlServer
from jobqueue.handlers import Handlers
from jobqueue.job import Job
from jobqueue.registry import Command, WorkerState
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.worker.control import control_link
from tests.services import free_port
from tests.worker.conftest import Place, eventually, make_worker

HEARTBEAT_S = 0.05


@pytest.fixture
async def server() -> AsyncIterator[ControlServer]:
    async with ControlServer(InMemoryRegistry(), "127.0.0.1:0", sweep_s=0.1) as server:
        yield server


def holding() -> tuple[Handlers, asyncio.Event]:
    """Handlers whose ``hold`` jobs wait for the event."""
    release = asyncio.Event()
    handlers = Handlers()

    @handlers.job("hold")
    async def hold(payload: Any) -> None:
        await release.wait()

    return handlers, release


async def test_a_running_worker_is_registered_with_its_stats_and_deregistered_when_it_stops(
    place: Place, broker: Broker, server: ControlServer
) -> None:
    handlers, release = holding()
    worker = make_worker(place, handlers, concurrency=2)
    job = Job("hold", None)
    await broker.publish([job])
    running = asyncio.create_task(
        worker.run(control_link(worker, f"127.0.0.1:{server.port}", HEARTBEAT_S))
    )

    async def reported_in_flight() -> bool:
        info = await server.registry.get(worker.worker_id)
        return info is not None and info.report.job_ids == (job.id,)

    await eventually(reported_in_flight)
    info = await server.registry.get(worker.worker_id)
    assert info is not None
    assert (info.report.load, info.report.concurrency) == (1, 2)
    assert info.report.job_types == ("hold",)
    assert info.report.queue == place.queue
    release.set()
    await worker.stop()

    assert running.done()
    assert await server.registry.get(worker.worker_id) is None


async def test_pause_resume_and_drain_from_the_control_plane_reach_the_worker(
    place: Place, broker: Broker, server: ControlServer
) -> None:
    handlers, release = holding()
    release.set()
    worker = make_worker(place, handlers)
    running = asyncio.create_task(
        worker.run(control_link(worker, f"127.0.0.1:{server.port}", HEARTBEAT_S))
    )
    registry = server.registry

    async def reported(state: WorkerState) -> bool:
        info = await registry.get(worker.worker_id)
        return info is not None and info.state is state

    await eventually(lambda: reported(WorkerState.ACTIVE))
    await registry.send_command(worker.worker_id, Command.PAUSE)
    await eventually(lambda: reported(WorkerState.PAUSED))
    await registry.send_command(worker.worker_id, Command.RESUME)
    await eventually(lambda: reported(WorkerState.ACTIVE))
    await broker.publish([Job("hold", None)])
    await eventually(lambda: worker.stats().processed == 1)
    await registry.send_command(worker.worker_id, Command.DRAIN)

    async with asyncio.timeout(15):
        await running
    assert await reported(WorkerState.DRAINED)  # listed as drained, not gone without a word


async def test_a_worker_runs_jobs_while_the_control_plane_is_unreachable(
    place: Place, broker: Broker
) -> None:
    handlers, release = holding()
    release.set()
    worker = make_worker(place, handlers, burst=True)
    await broker.publish([Job("hold", None)])

    async with asyncio.timeout(15):
        await worker.run(control_link(worker, f"127.0.0.1:{free_port()}", HEARTBEAT_S))

    assert worker.stats().processed == 1
    assert await broker.depth() == QueueDepth(ready=0, delayed=0, dead=0)
