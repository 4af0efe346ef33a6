"""Fixtures for delayed and unique jobs: the API over a real broker and store, with or without
its promoter; on SQLite, or on RabbitMQ with PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.brokers import Broker, from_url
from jobqueue.delay.promoter import Promoter, promoting
from jobqueue.store import Store
from tests.api.conftest import asgi_client
from tests.brokers.rabbit import delete_queues, fresh_queue_name
from tests.control.polling import eventually
from tests.services import POSTGRES_URL, RABBITMQ_URL
from tests.store.conftest import drop_schema, open_store

JSON = {"Content-Type": "application/json"}
SETTLE_S = 10.0
BACKENDS = pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])],
)


@dataclass
class Api:
    """The API in process: its broker, its store, a client, and its promoter if running."""

    broker: Broker
    store: Store
    client: httpx.AsyncClient
    promoter: Promoter | None

    async def post(self, body: object, path: str = "/jobs", **headers: str) -> httpx.Response:
        """POST ``body`` as JSON."""
        return await self.client.post(path, json=body, headers={**JSON, **headers})

    async def state(self, job_id: str) -> str:
        """The job's state as ``GET /jobs/{id}`` answers."""
        answer = await self.client.get(f"/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        return str(answer.json()["state"])

    async def settled_state(self, job_id: str, leaving: str = "scheduled") -> str:
        """The job's state once it is no longer ``leaving`` (within a few seconds)."""

        async def left() -> bool:
            return await self.state(job_id) != leaving

        await eventually(left, SETTLE_S, f"job {job_id} leaving {leaving}")
        return await self.state(job_id)


@contextlib.asynccontextmanager
async def backend_urls(backend: str, tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    """The broker URL, queue and store URL of a fresh backend, removed after."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}", "jobs", f"sqlite:///{tmp_path / 'state.db'}"
        return
    queue, schema = fresh_queue_name(), f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield RABBITMQ_URL, queue, f"{POSTGRES_URL}?schema={schema}"
    finally:
        delete_queues(RABBITMQ_URL, queue)
        await drop_schema(schema)


@contextlib.asynccontextmanager
async def running_api(
    broker_url: str, queue: str, store_url: str, promote: bool = True
) -> AsyncIterator[Api]:
    """The app over a connected broker and store, its promoter running when ``promote``."""
    broker = from_url(broker_url, queue)
    await broker.connect()
    try:
        async with open_store(store_url) as store, contextlib.AsyncExitStack() as stack:
            promoter = None
            if promote:
                promoter = await stack.enter_async_context(promoting(store, broker.publish))
            app = create_app(broker, tracking=Tracking(store))
            async with asgi_client(app) as client:
                yield Api(broker, store, client, promoter)
    finally:
        await broker.close()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which backend a parametrized test runs on (sqlite unless parametrized)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def api(backend: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The API with its promoter, on the test's backend."""
    async with backend_urls(backend, tmp_path) as urls, running_api(*urls) as api:
        yield api


@pytest.fixture
async def idle_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The API on SQLite without a promoter: scheduled jobs stay until promoted by hand."""
    async with backend_urls("sqlite", tmp_path) as urls, running_api(*urls, promote=False) as api:
        yield api
