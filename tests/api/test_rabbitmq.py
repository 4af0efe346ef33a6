"""The submit path against the real RabbitMQ: a 202 means the message is confirmed and queued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobqueue import codec
from jobqueue.api.app import create_app
from jobqueue.brokers import Death
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.job import Job
from tests.api.conftest import asgi_client, queued_jobs, take_deliveries
from tests.brokers.rabbit import raw_channel

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def rabbit_client(rabbitmq_broker: RabbitmqBroker) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of the app over a RabbitMQ broker on a fresh queue."""
    async with asgi_client(create_app(rabbitmq_broker)) as client:
        yield client


async def test_accepted_job_is_a_persistent_json_message_on_the_queue(
    rabbit_client: httpx.AsyncClient, rabbitmq_broker: RabbitmqBroker
) -> None:
    body = b'{"type":"email","payload":{"n":123456789012345678901234567890,"f":0.1,"one":1.0}}'

    response = await rabbit_client.post(
        "/jobs", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 202
    answer = codec.loads(response.content)
    assert response.headers["location"] == f"/jobs/{answer['id']}"
    props, raw = await asyncio.to_thread(_get_one, rabbitmq_broker.names.queue)
    assert props.delivery_mode == 2
    assert props.content_type == "application/json"
    assert props.message_id == answer["id"]
    assert codec.loads(raw) == answer
    assert b'"n":123456789012345678901234567890,"f":0.1,"one":1.0' in raw


def _get_one(queue: str) -> tuple[Any, bytes]:
    with raw_channel() as channel:
        method, props, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None, "the queue is empty"
        return props, body


async def test_concurrent_submissions_are_all_confirmed_and_queued(
    rabbit_client: httpx.AsyncClient, rabbitmq_broker: RabbitmqBroker
) -> None:
    count = 50

    responses = await asyncio.gather(
        *(rabbit_client.post("/jobs", json={"type": "t", "payload": i}) for i in range(count))
    )

    assert {response.status_code for response in responses} == {202}
    queued = await queued_jobs(rabbitmq_broker, count)
    assert sorted(job.payload for job in queued) == list(range(count))


async def test_batch_is_queued_on_rabbitmq(
    rabbit_client: httpx.AsyncClient, rabbitmq_broker: RabbitmqBroker
) -> None:
    response = await rabbit_client.post(
        "/jobs/batch", json={"jobs": [{"type": "t", "payload": i} for i in range(10)]}
    )

    assert response.status_code == 202
    queued = await queued_jobs(rabbitmq_broker, 10)
    assert sorted(job.id for job in queued) == sorted(j["id"] for j in response.json()["jobs"])


async def test_readiness_is_200_on_a_connected_rabbitmq(
    rabbit_client: httpx.AsyncClient,
) -> None:
    response = await rabbit_client.get("/readyz")

    assert response.status_code == 200


async def test_dead_job_on_rabbitmq_is_listed_and_replayed(
    rabbit_client: httpx.AsyncClient, rabbitmq_broker: RabbitmqBroker
) -> None:
    job = Job(type="email", payload={"to": "a@b.c"})
    await rabbitmq_broker.publish([job])
    [delivery] = await take_deliveries(rabbitmq_broker, 1)
    await rabbitmq_broker.dead_letter(delivery, Death(reason="rejected", error="no"))

    listed = await rabbit_client.get("/dlq")
    replayed = await rabbit_client.post(f"/dlq/{job.id}/replay")

    [item] = listed.json()["dead_jobs"]
    assert (item["id"], item["reason"], item["error"]) == (job.id, "rejected", "no")
    assert replayed.status_code == 202
    [again] = await queued_jobs(rabbitmq_broker, 1)
    assert (again.id, again.attempts) == (job.id, 0)
