"""The worker's status reporter: group commit, and no settle before the final events are durable."""

from __future__ import annotations

import asyncio
from typing import Any

from jobqueue.brokers import Broker, from_url
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.handlers import Handlers
from jobqueue.job import Job
from jobqueue.store import events as ev
from jobqueue.store.transport import batch_events
from jobqueue.worker import Worker
from jobqueue.worker.status import StatusReporter
from tests.api.conftest import take_deliveries
from tests.services import free_port
from tests.status.conftest import System
from tests.worker.conftest import FAST_RETRY, eventually


async def _events_messages(broker: Broker, count: int) -> list[list[ev.JobEvent]]:
    deliveries = await take_deliveries(broker, count)
    for delivery in deliveries:
        await broker.ack(delivery)
    return [batch_events(delivery.body) for delivery in deliveries]


async def test_concurrent_commits_share_one_publish(system: System) -> None:
    await system.stop_consumer()
    reporter = StatusReporter(system.events_broker(), max_in_flight=1, commit_linger_s=0)
    await reporter.start()
    jobs = [Job("email", {"n": n}) for n in range(50)]
    try:
        await asyncio.gather(
            *(reporter.commit([ev.succeeded(job, "w", n)]) for n, job in enumerate(jobs))
        )
        assert await system.events_broker_depth() == 2  # the first alone, then the other 49
    finally:
        await reporter.close()
    events_broker = system.events_broker()
    await events_broker.connect()
    try:
        batches = await _events_messages(events_broker, 2)
    finally:
        await events_broker.close()
    assert [len(batch) for batch in batches] == [1, 49]
    assert {event.job_id for batch in batches for event in batch} == {job.id for job in jobs}


async def test_informative_events_wait_for_company(system: System) -> None:
    await system.stop_consumer()
    reporter = StatusReporter(system.events_broker(), linger_s=0.05)
    await reporter.start()
    job = Job("email", {})
    try:
        for fraction in (0.25, 0.5, 0.75):
            reporter.emit(ev.progress(job, "w", fraction))

        async def published() -> bool:
            return await system.events_broker_depth() == 1

        await eventually(published)
    finally:
        await reporter.close()
    assert reporter.published == 3


async def test_a_job_whose_final_events_cannot_be_stored_is_not_acked(system: System) -> None:
    runs: list[int] = []
    handlers = Handlers()

    @handlers.job("email")
    async def email(payload: Any) -> None:
        runs.append(1)

    unreachable = RabbitmqBroker(
        f"amqp://guest:guest@127.0.0.1:{free_port()}/",
        "jobs.events",
        connect_timeout_s=0.5,
        reconnect_max_s=0.5,
    )
    reporter = StatusReporter(unreachable, commit_timeout_s=0.2, close_timeout_s=0.2)
    jobs_broker = from_url(system.broker_url, system.queue)
    worker = Worker(jobs_broker, handlers, status=reporter, retry=FAST_RETRY, concurrency=1)
    job_id = await system.submit("email")
    running = asyncio.create_task(worker.run())
    await eventually(lambda: len(runs) >= 2)  # handed back, delivered again: never acked
    await worker.stop()
    await running

    assert (await system.broker.depth()).ready == 1
    assert (await system.job(job_id))["state"] == "queued"
