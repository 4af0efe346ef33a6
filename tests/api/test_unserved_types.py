"""Submitting a job of a type no live worker serves: a 202 that says so, or a 422 by choice."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.settings import ApiSettings
from jobqueue.brokers import Broker
from jobqueue.errors import ConfigError, RegistryUnavailable
from jobqueue.registry import WorkerReport
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.registry.redis import RedisRegistry
from tests.api.conftest import asgi_client, take_deliveries
from tests.services import free_port

EMAIL_WORKER = WorkerReport(job_types=("email",), queue="jobs")


@pytest.fixture
async def registry() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    await registry.register("w1", EMAIL_WORKER)
    return registry


async def client_for(
    broker: Broker, registry: InMemoryRegistry, **settings: str
) -> httpx.AsyncClient:
    return asgi_client(create_app(broker, registry, settings=ApiSettings(**settings)))


@pytest.fixture
async def http(broker: Broker, registry: InMemoryRegistry) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(broker, registry) as client:
        yield client


async def test_a_served_type_is_accepted_without_a_warning(http: httpx.AsyncClient) -> None:
    response = await http.post("/jobs", json={"type": "email", "payload": {}})
    assert response.status_code == 202
    assert "warning" not in response.headers
    assert "warning" not in response.json()


async def test_an_unserved_type_is_accepted_durably_and_the_answer_says_no_worker_serves_it(
    http: httpx.AsyncClient, broker: Broker
) -> None:
    response = await http.post("/jobs", json={"type": "resize", "payload": {}})

    assert response.status_code == 202
    message = "no live worker serves job type 'resize' yet: the job waits for one"
    assert response.json()["warning"] == message
    assert response.headers["warning"] == f'199 jobqueue "{message}"'
    [delivery] = await take_deliveries(broker, 1)
    assert delivery.message_id == response.json()["id"]


async def test_a_batch_names_every_unserved_type_once(http: httpx.AsyncClient) -> None:
    jobs = [{"type": t, "payload": {}} for t in ("resize", "email", "pdf", "resize")]
    response = await http.post("/jobs/batch", json={"jobs": jobs})

    assert response.status_code == 202
    assert len(response.json()["jobs"]) == 4
    assert response.json()["warning"] == (
        "no live worker serves job types 'pdf', 'resize' yet: the job waits for one"
    )
    assert response.headers["warning"].startswith("199 jobqueue ")


async def test_a_type_with_non_ascii_letters_is_warned_about_in_an_ascii_header(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/jobs", json={"type": 'größe"x', "payload": {}})
    header = response.headers["warning"]
    assert header.isascii()
    assert json.loads(header.removeprefix("199 jobqueue ")) == response.json()["warning"]


async def test_the_reject_setting_refuses_an_unserved_type_with_a_422_and_publishes_nothing(
    broker: Broker, registry: InMemoryRegistry
) -> None:
    async with await client_for(broker, registry, unserved_types="reject") as http:
        refused = await http.post("/jobs", json={"type": "resize", "payload": {}})
        batch = await http.post(
            "/jobs/batch", json={"jobs": [{"type": "email"}, {"type": "resize"}]}
        )
        accepted = await http.post("/jobs", json={"type": "email", "payload": {}})

    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "unknown_job_type",
        "message": "no live worker serves job type 'resize'",
    }
    assert batch.status_code == 422
    assert accepted.status_code == 202
    assert (await broker.depth()).ready == 1


async def test_a_worker_that_registers_is_counted_within_a_second(
    http: httpx.AsyncClient, registry: InMemoryRegistry
) -> None:
    first = await http.post("/jobs", json={"type": "resize", "payload": {}})
    await registry.register("w2", dataclasses.replace(EMAIL_WORKER, job_types=("resize",)))
    await _wait_for_refresh()
    second = await http.post("/jobs", json={"type": "resize", "payload": {}})

    assert "warning" in first.json()
    assert "warning" not in second.json()


async def test_a_registry_that_cannot_be_read_lets_submissions_through_unwarned(
    broker: Broker,
) -> None:
    down = RedisRegistry.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RegistryUnavailable):
        await down.workers()
    async with asgi_client(create_app(broker, down)) as http:
        response = await http.post("/jobs", json={"type": "resize", "payload": {}})
    await down.close()
    assert response.status_code == 202
    assert "warning" not in response.json()


def test_an_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unserved_types must be 'warn' or 'reject'"):
        ApiSettings(unserved_types="maybe")


async def _wait_for_refresh() -> None:
    import asyncio

    from jobqueue.registry.fleet import FLEET_REFRESH_S

    await asyncio.sleep(FLEET_REFRESH_S + 0.05)
