"""The worker's life in one process: graceful stop, hand-back, drain, pause/resume, stats."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest

import jobqueue
from jobqueue.brokers import Broker, QueueDepth
from jobqueue.handlers import Handlers
from jobqueue.job import Job
from jobqueue.worker import Worker
from tests.worker.conftest import BOTH_BACKENDS, Place, eventually, make_worker, run_burst

NOT_TAKEN_WAIT_S = 0.3  # how long a worker that must not take a job is given to wrongly take it


class Gate:
    """A handler that holds its jobs until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.started: list[Any] = []
        self.finished: list[Any] = []
        self.cancelled: list[Any] = []

    async def __call__(self, payload: Any) -> None:
        self.started.append(payload)
        try:
            await self.opened.wait()
        except asyncio.CancelledError:
            self.cancelled.append(payload)
            raise
        self.finished.append(payload)


def gated(gate: Gate) -> Handlers:
    handlers = Handlers()
    handlers.add("gated", gate)
    handlers.add("quick", lambda payload: None)
    return handlers


async def start(worker: Worker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run())


@BOTH_BACKENDS
async def test_stop_lets_the_job_in_flight_finish_and_takes_no_new_one(
    broker: Broker, place: Place
) -> None:
    gate = Gate()
    worker = make_worker(place, gated(gate), concurrency=1, grace_s=60)
    await broker.publish([Job("gated", 1)])
    running = await start(worker)
    await eventually(lambda: gate.started)

    stopping = asyncio.create_task(worker.stop())
    await eventually(lambda: worker.stats().state == "draining")
    await broker.publish([Job("quick", 2)])
    gate.opened.set()
    await stopping

    assert running.done()
    assert gate.finished == [1]
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)


@BOTH_BACKENDS
async def test_a_job_still_running_after_the_grace_period_is_handed_back_and_runs_again(
    broker: Broker, place: Place
) -> None:
    gate = Gate()
    worker = make_worker(place, gated(gate), grace_s=0.1)
    job = Job("gated", 1)
    await broker.publish([job])
    running = await start(worker)
    await eventually(lambda: gate.started)

    await worker.stop()

    assert running.done()
    assert gate.cancelled == [1]
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)
    gate.opened.set()
    await run_burst(place, gated(gate))
    assert gate.finished == [1]
    assert await broker.depth() == QueueDepth(ready=0, delayed=0, dead=0)


async def test_a_second_stop_request_hands_back_at_once(broker: Broker, place: Place) -> None:
    gate = Gate()
    worker = make_worker(place, gated(gate), grace_s=3600)
    await broker.publish([Job("gated", 1)])
    running = await start(worker)
    await eventually(lambda: gate.started)

    worker.request_stop()
    await eventually(lambda: worker.stats().state == "draining")
    worker.request_stop()
    await running

    assert gate.cancelled == [1]
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)


@BOTH_BACKENDS
async def test_drain_finishes_the_jobs_in_flight_however_long_they_take(
    broker: Broker, place: Place
) -> None:
    gate = Gate()
    worker = make_worker(place, gated(gate), concurrency=1, grace_s=0)
    await broker.publish([Job("gated", 1)])
    running = await start(worker)
    await eventually(lambda: gate.started)

    worker.command("drain")
    await broker.publish([Job("quick", 2)])
    await asyncio.sleep(NOT_TAKEN_WAIT_S)
    assert not running.done()
    assert worker.stats().state == "draining"
    gate.opened.set()
    await running

    assert gate.finished == [1]
    assert gate.cancelled == []
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)


@BOTH_BACKENDS
async def test_a_paused_worker_takes_no_jobs_until_resumed(broker: Broker, place: Place) -> None:
    gate = Gate()
    gate.opened.set()
    worker = make_worker(place, gated(gate))
    running = await start(worker)
    await broker.publish([Job("gated", 1)])
    await eventually(lambda: gate.finished == [1])

    worker.command("pause")
    assert worker.stats().state == "paused"
    await broker.publish([Job("gated", 2)])
    await asyncio.sleep(NOT_TAKEN_WAIT_S)
    assert gate.started == [1]
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)

    worker.command("resume")
    await eventually(lambda: gate.finished == [1, 2])
    assert worker.stats().state == "active"
    await worker.stop()
    assert running.done()


@BOTH_BACKENDS
async def test_a_pause_undone_at_once_leaves_the_worker_consuming(
    broker: Broker, place: Place, worker_log: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    gate.opened.set()
    worker = make_worker(place, gated(gate))
    running = await start(worker)
    await eventually(lambda: "consuming from queue" in worker_log.text)

    worker.pause()
    worker.resume()
    await broker.publish([Job("gated", 1)])

    await eventually(lambda: gate.finished == [1])
    await worker.stop()
    assert running.done()
    assert "consuming failed" not in worker_log.text


@BOTH_BACKENDS
async def test_pausing_lets_the_job_in_flight_finish(broker: Broker, place: Place) -> None:
    gate = Gate()
    worker = make_worker(place, gated(gate))
    running = await start(worker)
    await broker.publish([Job("gated", 1)])
    await eventually(lambda: gate.started)

    worker.pause()
    gate.opened.set()
    await eventually(lambda: gate.finished == [1])
    await eventually(lambda: worker.stats().processed == 1)
    await worker.stop()

    assert running.done()
    assert await broker.depth() == QueueDepth(ready=0, delayed=0, dead=0)


async def test_an_unknown_command_is_ignored(broker: Broker, place: Place) -> None:
    worker = make_worker(place, gated(Gate()))
    worker.command("explode")
    assert worker.stats().state == "active"


async def test_stats_describe_the_worker_and_its_jobs_in_flight(
    broker: Broker, place: Place
) -> None:
    gate = Gate()
    worker = make_worker(place, gated(gate), concurrency=3, worker_id="w-7")
    job = Job("gated", 1)
    await broker.publish([job])
    running = await start(worker)
    await eventually(lambda: gate.started)

    stats = worker.stats()
    assert stats.worker_id == "w-7"
    assert (stats.in_flight, stats.job_ids) == (1, (job.id,))
    assert stats.concurrency == 3
    assert stats.job_types == ("gated", "quick")
    assert stats.queue == "jobs"
    assert (stats.host, stats.pid) == (socket.gethostname(), os.getpid())
    assert stats.version == jobqueue.__version__
    assert stats.started_at_unix > 0
    assert stats.state == "active"

    gate.opened.set()
    await eventually(lambda: worker.stats().processed == 1)
    assert (worker.stats().in_flight, worker.stats().job_ids) == (0, ())
    await worker.stop()
    assert running.done()


async def test_stop_before_run_is_harmless(place: Place) -> None:
    worker = make_worker(place, gated(Gate()))
    await worker.stop()
    assert worker.stats().state == "draining"
