"""Submitted limits that are nonsense are refused with 422 naming the field; good ones travel."""

from __future__ import annotations

import httpx

from jobqueue.brokers import Broker
from jobqueue.job import Job
from tests.api.conftest import take_deliveries


async def test_a_rate_that_is_nonsense_is_refused_with_422(client: httpx.AsyncClient) -> None:
    answer = await client.post("/jobs", json={"type": "sync", "rate": "10/x"})
    assert answer.status_code == 422
    assert "rate: '10/x' is not a rate" in answer.text


async def test_a_batch_names_the_job_whose_concurrency_is_nonsense(
    client: httpx.AsyncClient,
) -> None:
    jobs = [{"type": "sync"}, {"type": "sync", "concurrency": "two"}]
    answer = await client.post("/jobs/batch", json={"jobs": jobs})
    assert answer.status_code == 422
    assert "jobs[1].concurrency: must be an integer" in answer.text


async def test_a_jobs_key_and_limits_reach_the_worker(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    body = {"type": "sync", "concurrency_key": "customer:42", "concurrency": 2, "rate": "60/m"}
    answer = await client.post("/jobs", json=body)
    assert answer.status_code == 202, answer.text
    [delivery] = await take_deliveries(broker, 1)
    limit = Job.decode(delivery.body).limit
    assert limit is not None
    assert (limit.key, limit.concurrency, limit.rate_per_s) == (
        "customer:42",
        2,
        1.0,
    )
