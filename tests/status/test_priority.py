"""A job's priority end to end: the store records what was submitted, ``GET /jobs`` shows it,
and a worker's retry publishes the job again with it."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from jobqueue.errors import Retry
from jobqueue.handlers import Handlers
from jobqueue.job import Job
from jobqueue.testing.broker import eventually
from tests.status.conftest import WAIT_S, System


async def test_the_store_records_the_priority_and_get_shows_it(system: System) -> None:
    urgent = await system.submit("email", {}, priority=8)
    plain = await system.submit("email", {})
    batch = await system.client.post("/jobs/batch", json={"jobs": [{"type": "sms", "priority": 2}]})
    assert batch.status_code == 202
    [batched] = [job["id"] for job in batch.json()["jobs"]]
    assert (await system.job(urgent))["priority"] == 8
    assert (await system.job(plain))["priority"] == 0
    assert (await system.job(batched))["priority"] == 2
    listed = (await system.client.get("/jobs", params={"type": "email"})).json()["jobs"]
    assert {job["id"]: job["priority"] for job in listed} == {urgent: 8, plain: 0}


async def _state_becomes(system: System, job_id: str, state: str) -> dict[str, Any]:
    async def state_now() -> str:
        return str((await system.job(job_id))["state"])

    await eventually(state_now, state, timeout_s=WAIT_S, what=f"job {job_id}'s state")
    return await system.job(job_id)


async def test_a_job_retried_by_a_worker_keeps_its_priority(system: System) -> None:
    handlers = Handlers()

    @handlers.job("later")
    def later(payload: Any) -> None:
        raise Retry(delay_s=600)  # so the retry waits in the broker for the test to read

    job_id = await system.submit("later", {}, priority=6)
    worker = system.worker(handlers)
    running = asyncio.create_task(worker.run())
    try:
        job = await _state_becomes(system, job_id, "retrying")
    finally:
        await worker.stop()
        await running
    path = Path(system.broker_url.removeprefix("sqlite:///"))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        [(priority, body)] = conn.execute(
            "SELECT priority, body FROM broker_jobs WHERE message_id = ?", (job_id,)
        ).fetchall()
    retried = Job.decode(body)
    assert (priority, retried.priority, retried.attempts) == (6, 6, 1)
    assert job["priority"] == 6
