"""Cancellation: DELETE /jobs/{id} before a job runs (the worker skips it) and while it runs
(the handler sees it), carried to workers by the gRPC heartbeat replies."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobqueue.api.cancels import CancelLog, StoreCancels
from jobqueue.control.server import ControlServer
from jobqueue.handlers import Handlers, JobContext
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.worker import Worker
from jobqueue.worker.control import control_link
from tests.status.conftest import System
from tests.worker.conftest import eventually

HEARTBEAT_S = 0.05


@pytest.fixture
async def control(system: System) -> AsyncIterator[ControlServer]:
    """The API's gRPC control plane, telling workers about cancellations from the store."""
    cancels = StoreCancels(system.store, system.tracking.cancels, refresh_s=0.05)
    async with (
        cancels,
        ControlServer(InMemoryRegistry(), "127.0.0.1:0", cancels=cancels) as server,
    ):
        yield server


async def _run(worker: Worker, control: ControlServer) -> asyncio.Task[None]:
    link = control_link(worker, f"127.0.0.1:{control.port}", HEARTBEAT_S)
    return asyncio.create_task(worker.run(link))


async def _store_says_running(system: System, job_id: str) -> None:
    """Wait for the worker's ``running`` event to reach the store (else the job still looks
    queued there, and a DELETE cancels it as such: the worker is then told through the log of
    queued cancellations, and stops it all the same)."""

    async def running() -> bool:
        return (await system.job(job_id))["state"] == "running"

    await eventually(running)


async def test_a_job_cancelled_before_it_runs_is_skipped(
    system: System, control: ControlServer
) -> None:
    ran: list[str] = []
    handlers = Handlers()

    @handlers.job("email")
    async def email(payload: Any, ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    worker = system.worker(handlers)
    worker.pause()  # it takes no job until the cancellation has reached it
    running = await _run(worker, control)
    job_id = await system.submit("email")
    cancelled = await system.client.delete(f"/jobs/{job_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    await eventually(lambda: worker.knows_cancelled(job_id))

    worker.resume()
    await eventually(lambda: worker.stats().processed == 1)
    await worker.stop()
    await running

    assert ran == []
    assert (await system.broker.depth()).ready == 0

    async def worker_said_so() -> bool:  # its event comes through the events queue
        return len(await system.history(job_id)) == 3

    await eventually(worker_said_so)
    history = await system.history(job_id)
    assert [e["kind"] for e in history] == ["queued", "cancelled", "cancelled"]
    assert history[-1]["worker_id"] == worker.worker_id
    assert (await system.job(job_id))["state"] == "cancelled"


async def test_a_plain_handler_sees_its_job_cancelled_while_it_runs(
    system: System, control: ControlServer
) -> None:
    started, saw_cancel = threading.Event(), threading.Event()
    handlers = Handlers()

    @handlers.job("crunch", max_attempts=3)
    def crunch(payload: Any, ctx: JobContext) -> str:
        started.set()
        for _ in range(2000):  # 20 s at most
            if ctx.cancelled:
                saw_cancel.set()
                ctx.raise_if_cancelled()
            threading.Event().wait(0.01)
        return "finished anyway"

    worker = system.worker(handlers)
    running = await _run(worker, control)
    job_id = await system.submit("crunch")
    await eventually(started.is_set)
    await _store_says_running(system, job_id)

    answer = await system.client.delete(f"/jobs/{job_id}")
    assert answer.status_code == 202
    assert answer.json()["cancel_requested"] is True
    job = await system.final(job_id)
    await worker.stop()
    await running

    assert saw_cancel.is_set()
    assert job["state"] == "cancelled"
    assert job["attempts"] == 1  # not retried
    assert (await system.broker.depth()).ready == 0


async def test_an_async_handler_is_interrupted_when_its_job_is_cancelled(
    system: System, control: ControlServer
) -> None:
    started = asyncio.Event()
    seen: dict[str, bool] = {}
    handlers = Handlers()

    @handlers.job("wait")
    async def wait(payload: Any, ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen["cancelled"] = ctx.cancelled
            raise

    worker = system.worker(handlers)
    running = await _run(worker, control)
    job_id = await system.submit("wait")
    await asyncio.wait_for(started.wait(), 10)
    await _store_says_running(system, job_id)

    assert (await system.client.delete(f"/jobs/{job_id}")).status_code == 202
    job = await system.final(job_id)
    assert worker.stats().in_flight == 0
    await worker.stop()
    await running

    assert seen == {"cancelled": True}
    assert job["state"] == "cancelled"
    assert [e["kind"] for e in await system.history(job_id)][-2:] == [
        "cancel_requested",
        "cancelled",
    ]


async def test_a_finished_or_unknown_job_cannot_be_cancelled(system: System) -> None:
    handlers = Handlers()
    handlers.add("email", lambda payload: None)
    job_id = await system.submit("email")
    await system.burst(handlers)
    await system.final(job_id)

    finished = await system.client.delete(f"/jobs/{job_id}")
    unknown = await system.client.delete("/jobs/no-such-job")

    assert finished.status_code == 409
    assert finished.json()["error"]["code"] == "job_finished"
    assert unknown.status_code == 404


async def test_cancelling_a_cancelled_job_again_is_a_409_like_any_finished_job(
    system: System,
) -> None:
    job_id = await system.submit("email")
    first = await system.client.delete(f"/jobs/{job_id}")
    again = await system.client.delete(f"/jobs/{job_id}")

    assert first.status_code == 200
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "job_finished",
        "message": f"job {job_id} already cancelled",
    }


def test_the_cancel_log_sends_each_cancellation_once_per_cursor() -> None:
    log, other = CancelLog(), CancelLog()
    log.add("a")
    ids, cursor = log.since("")
    log.add("b")
    log.add("c")
    newer, cursor2 = log.since(cursor)

    assert ids == ["a"]
    assert newer == ["b", "c"]
    assert log.since(cursor2)[0] == []
    assert other.since(cursor2)[0] == []  # a cursor of another API process: all it has
    assert log.since("garbage")[0] == ["a", "b", "c"]


def test_the_cancel_log_forgets_past_its_window_and_its_size() -> None:
    small = CancelLog(max_ids=2)
    for job_id in ("a", "b", "c"):
        small.add(job_id)
    brief = CancelLog(window_s=0.0)
    brief.add("a")

    assert small.since("")[0] == ["b", "c"]
    assert brief.since("")[0] == []


async def test_a_job_cancelled_through_another_api_replica_is_stopped(
    system: System, control: ControlServer
) -> None:
    started = asyncio.Event()
    handlers = Handlers()

    @handlers.job("wait")
    async def wait(payload: Any) -> None:
        started.set()
        await asyncio.sleep(30)

    worker = system.worker(handlers)
    running = await _run(worker, control)
    job_id = await system.submit("wait")
    await asyncio.wait_for(started.wait(), 10)
    await _store_says_running(system, job_id)

    record = await system.store.request_cancel(job_id)  # as another replica does: no log here
    job = await system.final(job_id)
    await worker.stop()
    await running

    assert record is not None
    assert record.cancel_requested
    assert job["state"] == "cancelled"
