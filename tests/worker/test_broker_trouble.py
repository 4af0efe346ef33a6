"""The worker when the broker is in trouble: settling fails, connections drop."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

import pytest

from jobqueue.brokers import QueueDepth
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job
from jobqueue.worker import Worker
from tests.brokers.rabbit import (
    TEST_OPTIONS,
    PrivateNode,
    delete_queues,
    fresh_queue_name,
    private_rabbitmq,
    rabbitmq_vhost,
    rabbitmqctl,
)
from tests.worker.conftest import FAST_RETRY, eventually

__all__ = ["private_rabbitmq", "rabbitmq_vhost"]

pytestmark = pytest.mark.rabbitmq

RECOVERY_S = 60.0
EMPTY = QueueDepth(ready=0, delayed=0, dead=0)


class FirstCallHeld:
    """A handler whose first call waits for ``release`` and then fails; later calls succeed."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls: list[int] = []

    async def __call__(self, payload: Any, ctx: JobContext) -> None:
        self.calls.append(ctx.attempt)
        if len(self.calls) == 1:
            await self.release.wait()
            raise RuntimeError("first call fails")


async def start_worker(url: str, queue: str, handler: FirstCallHeld) -> tuple[Worker, Any]:
    handlers = Handlers()
    handlers.add("held", handler)
    broker = RabbitmqBroker(url, queue, **TEST_OPTIONS)
    worker = Worker(broker, handlers, retry=FAST_RETRY, queue=queue, grace_s=5)
    return worker, asyncio.create_task(worker.run())


async def test_a_job_whose_retry_cannot_be_published_is_handed_back_and_runs_again(
    private_rabbitmq: PrivateNode, worker_log: pytest.LogCaptureFixture
) -> None:
    node, queue, handler = private_rabbitmq, fresh_queue_name(), FirstCallHeld()
    broker = RabbitmqBroker(node.url, queue, **TEST_OPTIONS)
    await broker.connect()
    worker, running = await start_worker(node.url, queue, handler)
    try:
        await broker.publish([Job("held", None)])
        await eventually(lambda: handler.calls)
        # A memory alarm blocks publishing connections only: the worker still consumes, but
        # cannot publish the retry.
        await asyncio.to_thread(node.ctl, "set_vm_memory_high_watermark", "0.0000001")
        try:
            handler.release.set()
            await eventually(lambda: "could not settle" in worker_log.text, RECOVERY_S)
        finally:
            await asyncio.to_thread(node.ctl, "set_vm_memory_high_watermark", "0.4")

        # The original delivery was handed back rather than held: it runs again as attempt 0
        # (the retry copy, published once the alarm cleared, may run too: at least once).
        await eventually(lambda: handler.calls.count(0) >= 2, RECOVERY_S)
        await eventually(lambda: worker.stats().in_flight == 0, RECOVERY_S)
        await eventually(lambda: _depth_is(broker, EMPTY), RECOVERY_S)
        assert not running.done()
        await worker.stop()
        assert await broker.depth() == EMPTY
    finally:
        await worker.stop()
        await broker.close()
        await asyncio.to_thread(delete_queues, node.url, queue)


async def test_a_worker_whose_connections_are_closed_mid_job_runs_it_again(
    rabbitmq_vhost: str,
) -> None:
    queue, handler = fresh_queue_name(), FirstCallHeld()
    broker = RabbitmqBroker(rabbitmq_vhost, queue, **TEST_OPTIONS)
    await broker.connect()
    worker, running = await start_worker(rabbitmq_vhost, queue, handler)
    try:
        job = Job("held", None)
        await broker.publish([job])
        await eventually(lambda: handler.calls)
        vhost = urllib.parse.unquote(urllib.parse.urlsplit(rabbitmq_vhost).path[1:])
        await asyncio.to_thread(rabbitmqctl, "close_all_connections", "-p", vhost, "test")
        handler.release.set()

        await eventually(lambda: len(handler.calls) >= 2, RECOVERY_S)
        await eventually(lambda: _depth_is(broker, EMPTY), RECOVERY_S)
        assert handler.calls[:2] == [0, 0]
        assert not running.done()
    finally:
        await worker.stop()
        await broker.close()


async def _depth_is(broker: RabbitmqBroker, depth: QueueDepth) -> bool:
    try:
        return await broker.depth() == depth
    except Exception:
        return False


async def test_a_worker_started_while_the_broker_is_down_waits_for_it_and_then_runs_jobs(
    private_rabbitmq: PrivateNode,
) -> None:
    node, queue, handler = private_rabbitmq, fresh_queue_name(), FirstCallHeld()
    handler.calls.append(-1)  # the job below is not the held first call
    await asyncio.to_thread(node.ctl, "stop_app")
    try:
        worker, running = await start_worker(node.url, queue, handler)
        await asyncio.sleep(1.5)  # several connection attempts fail meanwhile
        assert not running.done()
    finally:
        await asyncio.to_thread(node.ctl, "start_app")
    broker = RabbitmqBroker(node.url, queue, **TEST_OPTIONS)
    try:
        await eventually(lambda: _connects(broker), RECOVERY_S)
        await broker.publish([Job("held", None)])
        await eventually(lambda: handler.calls == [-1, 0], RECOVERY_S)
        await eventually(lambda: _depth_is(broker, EMPTY), RECOVERY_S)
    finally:
        await worker.stop()
        await broker.close()
        await asyncio.to_thread(delete_queues, node.url, queue)
    assert running.done()


async def _connects(broker: RabbitmqBroker) -> bool:
    try:
        await broker.connect()
    except Exception:
        return False
    return True
