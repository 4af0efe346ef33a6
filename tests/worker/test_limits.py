"""The worker under fleet-wide limits: a job over its limit waits unrun and unblocks the rest."""

from __future__ import annotations

import asyncio
from typing import Any

from jobqueue.brokers import Broker
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job
from jobqueue.limits.backend import SlotRequest
from jobqueue.limits.gate import LimitGate
from jobqueue.limits.memory import MemoryLimits
from tests.worker.conftest import Place, eventually, make_worker


async def test_a_job_over_its_limit_waits_without_an_attempt_while_others_run(
    broker: Broker, place: Place
) -> None:
    ran: list[tuple[str, int]] = []
    handlers = Handlers()

    @handlers.job("sync", concurrency=1, concurrency_key=lambda payload: payload["customer"])
    def sync(payload: dict[str, Any], ctx: JobContext) -> None:
        ran.append(("sync", ctx.attempt))

    @handlers.job("free")
    def free(payload: dict[str, Any]) -> None:
        ran.append(("free", 0))

    shared = MemoryLimits()
    taken = SlotRequest("sync\x1f42", "elsewhere", "other-worker", 1, None, 30)
    assert (await shared.acquire(taken)).granted  # another worker runs a job of that key
    await broker.publish([Job("sync", {"customer": 42})])
    await broker.publish([Job("free", {})])
    worker = make_worker(place, handlers, concurrency=1, limits=LimitGate(shared, "w1"))
    running = asyncio.create_task(worker.run())
    try:
        await eventually(lambda: ran == [("free", 0)])
        await shared.release([("sync\x1f42", "elsewhere")])
        await eventually(lambda: len(ran) == 2)
    finally:
        await worker.stop()
        await running
    assert ran == [("free", 0), ("sync", 0)], "deferred, the job kept attempt 0"
    assert shared.held("sync\x1f42") == 0, "its slot was given back when it ended"


async def test_a_failing_job_gives_its_slot_back_for_its_next_attempt(
    broker: Broker, place: Place
) -> None:
    attempts: list[int] = []
    handlers = Handlers()

    @handlers.job("flaky", max_attempts=3, concurrency=1)
    def flaky(payload: dict[str, Any], ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt < 2:
            raise ValueError("not yet")

    shared = MemoryLimits()
    await broker.publish([Job("flaky", {})])
    worker = make_worker(place, handlers, burst=True, limits=LimitGate(shared, "w1"))
    await worker.run()
    assert attempts == [0, 1, 2]
    assert shared.held("flaky") == 0
