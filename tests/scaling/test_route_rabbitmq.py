"""``GET /scaling`` over the real RabbitMQ: the depth is the queue's ready count, the oldest
job's age the job store's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jobqueue.api.app import create_app
from jobqueue.api.settings import ApiSettings
from jobqueue.api.tracking import Tracking
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.registry.memory import InMemoryRegistry
from tests.api.conftest import asgi_client
from tests.store.conftest import open_store

pytestmark = pytest.mark.rabbitmq


async def test_the_backlog_on_rabbitmq_is_read_from_the_queue(
    rabbitmq_broker: RabbitmqBroker, tmp_path: Path
) -> None:
    queue = rabbitmq_broker.names.queue
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        app = create_app(
            rabbitmq_broker,
            InMemoryRegistry(),
            settings=ApiSettings(queue=queue),
            tracking=Tracking(store),
        )
        async with asgi_client(app) as client:
            jobs = [{"type": "slow", "payload": {"n": n}} for n in range(12)]
            assert (await client.post("/jobs/batch", json={"jobs": jobs})).status_code == 202
            body: dict[str, object] = {}
            async with asyncio.timeout(10):
                while body.get("inputs", {}).get("depth") != 12:  # type: ignore[union-attr]
                    await asyncio.sleep(0.2)  # the read is cached for a second
                    body = (await client.get("/scaling", params={"queue": queue})).json()

    assert body["desired_workers"] == 2  # 12 jobs, no pace: a slot each, 8 to a worker
    assert body["inputs"]["oldest_ready_age_s"] is not None  # type: ignore[index]
