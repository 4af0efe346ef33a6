"""The triage routes over the real RabbitMQ: groups browsed without losing a message, a group
replayed at a pace, another purged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.brokers import Death
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.job import Job
from tests.api.conftest import asgi_client, make_dead, queued_jobs

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def rabbit_app(rabbitmq_broker: RabbitmqBroker) -> FastAPI:
    return create_app(rabbitmq_broker)


@pytest.fixture
async def rabbit_client(rabbit_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(rabbit_app) as client:
        yield client


async def test_a_group_replays_and_another_is_purged_on_rabbitmq(
    rabbit_client: httpx.AsyncClient, rabbit_app: FastAPI, rabbitmq_broker: RabbitmqBroker
) -> None:
    jobs = [Job(type="email", payload={"n": n}) for n in range(5)]
    errors = {
        job.id: f"KeyError: 'u{n}'" if n < 3 else f"OSError: {n}" for n, job in enumerate(jobs)
    }
    await make_dead(rabbitmq_broker, jobs, lambda job: Death("max_attempts", error=errors[job.id]))

    keys, other = (await rabbit_client.get("/dlq/groups")).json()["groups"]
    again = (await rabbit_client.get("/dlq/groups")).json()
    replay = await rabbit_client.post(
        f"/dlq/groups/{keys['fingerprint']}/replay", params={"per_second": 100}
    )
    await rabbit_app.state.replays.wait()
    purge = await rabbit_client.delete(f"/dlq/groups/{other['fingerprint']}")

    assert (keys["count"], other["count"], again["scanned"]) == (3, 2, 5)
    assert replay.json() == {"replaying": 3}
    assert purge.json() == {"purged": 2}
    assert {job.id for job in await queued_jobs(rabbitmq_broker, 3)} == {j.id for j in jobs[:3]}
    assert (await rabbit_client.get("/dlq/groups")).json() == {"groups": [], "scanned": 0}
