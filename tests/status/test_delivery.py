"""Events through the events queue: delivered twice, out of order, or while the API is down."""

from __future__ import annotations

from typing import Any

from jobqueue.brokers import Broker
from jobqueue.handlers import Handlers, JobContext
from jobqueue.job import Job
from jobqueue.store import events as ev
from jobqueue.store.transport import batch_message
from tests.status.conftest import BACKENDS, System
from tests.worker.conftest import eventually


async def _publish_events(system: System, messages: list[Job]) -> None:
    broker: Broker = system.events_broker()
    await broker.connect()
    try:
        for message in messages:
            await broker.publish([message])
    finally:
        await broker.close()


async def _consumed(system: System, messages: int) -> None:
    """Wait until the consumer applied and acked ``messages`` messages in all."""
    consumer = system.consumer
    assert consumer is not None
    await eventually(lambda: consumer.messages >= messages)


async def test_a_batch_delivered_twice_changes_nothing(system: System) -> None:
    job = Job("email", {"to": "a@b.c"})
    batch = [ev.running(job, "w1"), ev.succeeded(job, "w1", {"sent": True})]
    message = batch_message(batch)

    await _publish_events(system, [message])
    await _consumed(system, 1)
    first = await system.job(job.id)
    await _publish_events(system, [message])  # the same message again, as a redelivery
    await _consumed(system, 2)

    assert system.consumer is not None
    assert system.consumer.applied == 2
    assert await system.job(job.id) == first
    assert first["state"] == "succeeded"
    assert first["result"] == {"sent": True}
    assert await system.kinds(job.id) == ["running", "succeeded"]


async def test_events_out_of_order_leave_the_right_final_state(system: System) -> None:
    job = Job("email", {"to": "a@b.c"}, max_attempts=3)
    second = job.next_attempt()
    late = [
        ev.running(job, "w1"),
        ev.failed_attempt(job, "w1", "RuntimeError: smtp down"),
        ev.retrying(job, "w1", ev.utc_now(), "RuntimeError: smtp down"),
        ev.running(second, "w2"),
    ]
    await _publish_events(system, [batch_message([ev.succeeded(second, "w2", "ok")])])
    await _consumed(system, 1)
    await _publish_events(system, [batch_message(late)])
    await _consumed(system, 2)

    job_now = await system.job(job.id)
    assert job_now["state"] == "succeeded"
    assert job_now["attempts"] == 2
    assert job_now["result"] == "ok"
    assert job_now["worker_id"] == "w2"
    assert job_now["error"] is None  # an earlier attempt's failure stays in its history only


async def test_a_message_that_is_not_an_events_batch_is_dead_lettered(system: System) -> None:
    good = Job("email", {})
    await _publish_events(
        system, [Job("email", "not events"), batch_message([ev.running(good, "w")])]
    )
    await _consumed(system, 1)

    broker = system.events_broker()
    await broker.connect()
    try:
        dead = await broker.dead_jobs()
    finally:
        await broker.close()
    assert [d.death.reason for d in dead] == ["undecodable"]
    assert (await system.job(good.id))["state"] == "running"


@BACKENDS
async def test_jobs_run_while_the_api_is_down_have_the_right_state_after(system: System) -> None:
    handlers = Handlers()

    @handlers.job("mixed", max_attempts=2)
    async def mixed(payload: Any, ctx: JobContext) -> int:
        if payload["fail"]:
            raise RuntimeError("always")
        ctx.progress(1.0)
        return int(payload["n"])

    await system.stop_consumer()  # the API is down: nobody consumes the events
    ids = [await system.submit("mixed", {"n": n, "fail": n % 3 == 0}) for n in range(9)]
    await system.burst(handlers)
    assert {(await system.job(job_id))["state"] for job_id in ids} == {"queued"}
    assert await system.events_broker_depth() > 0

    await system.start_consumer()  # the API is back
    for n, job_id in enumerate(ids):
        job = await system.final(job_id)
        if n % 3 == 0:
            assert (job["state"], job["attempts"]) == ("dead", 2)
        else:
            assert (job["state"], job["result"], job["progress"]) == ("succeeded", n, 1.0)
