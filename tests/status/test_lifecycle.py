"""A job's whole history, through a real worker and the events queue into the store."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from jobqueue import demo
from jobqueue.brokers import DEFAULT_MAX_REDELIVERIES, DeathReason, from_url
from jobqueue.cli import app
from jobqueue.errors import Retry
from jobqueue.handlers import Handlers, JobContext
from tests.brokers.rabbit import next_delivery
from tests.status.conftest import BACKENDS, System


def retrying_handlers() -> Handlers:
    handlers = Handlers()

    @handlers.job("flaky", max_attempts=3)
    async def flaky(payload: Any, ctx: JobContext) -> dict[str, int]:
        if ctx.attempt < payload["fail_times"]:
            raise Retry(0.01, f"not yet ({ctx.attempt})")
        return {"done_on": ctx.attempt}

    @handlers.job("doomed", max_attempts=2)
    def doomed(payload: Any) -> None:
        raise ValueError("the input is wrong")

    return handlers


@BACKENDS
async def test_a_job_retried_to_success_has_its_whole_history(system: System) -> None:
    job_id = await system.submit("flaky", {"fail_times": 2})
    await system.burst(retrying_handlers())

    job = await system.final(job_id)
    assert job["state"] == "succeeded"
    assert job["attempts"] == 3
    assert job["result"] == {"done_on": 2}
    assert job["payload"] == {"fail_times": 2}
    assert job["started_at"] is not None
    assert job["finished_at"] is not None
    assert job["worker_id"] == system.workers[0].worker_id
    attempt = ["running", "failed_attempt", "retrying"]
    assert await system.kinds(job_id) == ["queued", *attempt, *attempt, "running", "succeeded"]
    retrying = [e for e in await system.history(job_id) if e["kind"] == "retrying"]
    assert [e["attempt"] for e in retrying] == [0, 1]
    assert all(e["data"]["next_attempt_at"] for e in retrying)


@BACKENDS
async def test_a_job_that_keeps_failing_ends_dead_with_its_error(system: System) -> None:
    job_id = await system.submit("doomed")
    await system.burst(retrying_handlers())

    job = await system.final(job_id)
    assert job["state"] == "dead"
    assert job["attempts"] == 2
    assert job["error"] == "ValueError: the input is wrong"
    assert job["result"] is None
    kinds = await system.kinds(job_id)
    assert kinds == [
        "queued",
        *["running", "failed_attempt", "retrying"],
        *["running", "failed_attempt", "dead"],
    ]
    dead = (await system.history(job_id))[-1]
    assert dead["data"]["reason"] == "max_attempts"


async def test_a_job_of_an_unknown_type_is_dead_once_no_worker_served_it_for_the_wait(
    system: System,
) -> None:
    job_id = await system.submit("nobody-handles-this")
    await system.burst(retrying_handlers(), unserved_timeout_s=0)

    job = await system.final(job_id)
    assert job["state"] == "dead"
    assert job["attempts"] == 0
    assert "no handler for job type" in job["error"]
    assert await system.kinds(job_id) == ["queued", "dead"]


@pytest.mark.rabbitmq
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["rabbitmq"], indirect=True)
async def test_a_job_that_keeps_killing_its_workers_ends_dead_in_the_store(
    system: System,
) -> None:
    job_id = await system.submit("crash")
    # Each "worker" takes the job and goes away without settling it, as a crashed one would.
    for _ in range(DEFAULT_MAX_REDELIVERIES + 1):
        crashing = from_url(system.broker_url, system.queue)
        await crashing.connect()
        taken = await next_delivery(crashing.deliveries(prefetch=1))
        assert (taken.message_id, taken.death) == (job_id, None)
        await crashing.close()
    await system.burst(retrying_handlers())

    job = await system.final(job_id)
    assert job["state"] == "dead"
    assert "without being settled" in job["error"]
    assert await system.kinds(job_id) == ["queued", "dead"]
    dead = (await system.history(job_id))[-1]
    assert dead["data"]["reason"] == DeathReason.REDELIVERY_LIMIT
    assert dead["worker_id"] == system.workers[0].worker_id
    assert (await system.client.get(f"/dlq/{job_id}")).status_code == 200


async def test_a_replayed_dead_job_is_queued_again_and_can_succeed(system: System) -> None:
    attempts_allowed = {"n": 1}
    handlers = Handlers()

    @handlers.job("picky", max_attempts=1)
    async def picky(payload: Any) -> str:
        attempts_allowed["n"] -= 1
        if attempts_allowed["n"] < 0:
            return "fine now"
        raise RuntimeError("not this time")

    job_id = await system.submit("picky")
    await system.burst(handlers)
    assert (await system.final(job_id))["state"] == "dead"

    response = await system.client.post(f"/dlq/{job_id}/replay")
    assert response.status_code == 202
    assert (await system.job(job_id))["state"] == "queued"
    await system.burst(handlers)

    job = await system.final(job_id)
    assert job["state"] == "succeeded"
    assert job["result"] == "fine now"
    assert "requeued" in await system.kinds(job_id)


async def test_results_progress_and_states_show_while_a_job_runs(system: System) -> None:
    halfway, release = asyncio.Event(), asyncio.Event()
    handlers = Handlers()

    @handlers.job("long")
    async def long(payload: Any, ctx: JobContext) -> dict[str, str]:
        ctx.progress(0.5, "half way")
        halfway.set()
        await release.wait()
        return {"answer": "42"}

    job_id = await system.submit("long")
    worker = system.worker(handlers)
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(halfway.wait(), 10)
        job = await _eventually_job(system, job_id, lambda j: j["progress"] == 0.5)
        assert job["state"] == "running"
        assert job["progress_message"] == "half way"
        release.set()
        job = await system.final(job_id)
    finally:
        await worker.stop()
        await running
    assert job["state"] == "succeeded"
    assert job["result"] == {"answer": "42"}
    assert job["progress"] == 0.5


async def test_progress_is_throttled_and_its_last_report_arrives(system: System) -> None:
    handlers = Handlers()

    @handlers.job("counting")
    def counting(payload: Any, ctx: JobContext) -> None:
        for step in range(1, 1001):
            ctx.progress(step / 1000, f"step {step}")

    job_id = await system.submit("counting")
    await system.burst(handlers)

    await system.final(job_id)
    progress = [e for e in await system.history(job_id) if e["kind"] == "progress"]
    assert 1 <= len(progress) < 1000
    assert progress[-1]["data"] == {"fraction": 1.0, "message": "step 1000"}
    assert (await system.job(job_id))["progress"] == 1.0


async def test_a_result_too_large_fails_the_attempt_with_a_clear_error(system: System) -> None:
    handlers = Handlers()

    @handlers.job("big", max_attempts=1)
    async def big(payload: Any) -> str:
        return "x" * 200

    @handlers.job("odd", max_attempts=1)
    async def odd(payload: Any) -> object:
        return object()

    big_id, odd_id = await system.submit("big"), await system.submit("odd")
    await system.burst(handlers, max_result_bytes=100)

    big_job, odd_job = await system.final(big_id), await system.final(odd_id)
    assert big_job["state"] == "dead"
    assert "result too large (202 bytes > 100)" in big_job["error"]
    assert odd_job["state"] == "dead"
    assert "not JSON-serialisable" in odd_job["error"]


async def test_without_status_the_worker_runs_jobs_and_reports_nothing(system: System) -> None:
    job_id = await system.submit("flaky", {"fail_times": 0})
    await system.burst(retrying_handlers(), status=False)

    assert (await system.job(job_id))["state"] == "queued"
    depth = await system.events_broker_depth()
    assert depth == 0


async def _eventually_job(
    system: System, job_id: str, check: Any, timeout_s: float = 10.0
) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            job = await system.job(job_id)
            if check(job):
                return job
            await asyncio.sleep(0.02)


async def test_a_job_replayed_with_the_dlq_command_is_queued_again(system: System) -> None:
    job_id = await system.submit("doomed", max_attempts=1)
    await system.burst(retrying_handlers())
    assert (await system.final(job_id))["state"] == "dead"

    args = ["dlq", "replay", job_id, "--broker-url", system.broker_url, "--queue", system.queue]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)

    assert result.exit_code == 0, result.output
    assert (await system.job(job_id))["state"] == "queued"
    assert (await system.kinds(job_id))[-1] == "requeued"


async def test_the_demo_progress_job_reports_each_step_and_ends_at_one(system: System) -> None:
    job_id = await system.submit("progress", {"steps": 4, "seconds": 3.0})
    await system.burst(demo.handlers)

    job = await system.final(job_id)
    assert (job["state"], job["result"]) == ("succeeded", {"steps": 4})
    assert (job["progress"], job["progress_message"]) == (1.0, "step 4 of 4")
    progress = [e for e in await system.history(job_id) if e["kind"] == "progress"]
    assert [e["data"]["fraction"] for e in progress] == [0.25, 0.5, 0.75, 1.0]


async def test_a_job_shows_the_attempt_limit_in_force_and_one_time_format(
    system: System,
) -> None:
    handlers = Handlers()
    handlers.add("email", lambda payload: None, max_attempts=5)
    posted = await system.client.post("/jobs", json={"type": "email", "payload": {}})
    answer = posted.json()
    await system.burst(handlers)

    job = await system.final(answer["id"])
    assert job["max_attempts"] == 5  # the handler's, though the job named none
    assert job["created_at"] == answer["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", answer["created_at"])
