"""The status system end to end: a broker, its events queue, a store, the API app in process,
the events consumer, and workers that report — on SQLite, or on RabbitMQ with PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.events import EventsConsumer
from jobqueue.api.tracking import Tracking
from jobqueue.brokers import Broker, from_url
from jobqueue.handlers import Handlers
from jobqueue.store import Store, default_store_url
from jobqueue.store.transport import EVENTS_MAX_REDELIVERIES, events_queue
from jobqueue.worker import Worker
from jobqueue.worker.status import StatusReporter
from tests.api.conftest import asgi_client
from tests.brokers.rabbit import delete_queues, fresh_queue_name
from tests.services import POSTGRES_URL, RABBITMQ_URL
from tests.store.conftest import drop_schema, open_store
from tests.worker.conftest import FAST_RETRY

JSON = {"Content-Type": "application/json"}
WAIT_S = 20.0

BACKENDS = pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("rabbitmq", marks=[pytest.mark.rabbitmq, pytest.mark.postgres])],
    indirect=True,
)


@dataclass
class System:
    """One test's system: where jobs and events travel, the store, the app, and its parts."""

    broker_url: str
    queue: str
    store: Store
    broker: Broker
    client: httpx.AsyncClient
    tracking: Tracking
    consumer: EventsConsumer | None = None
    workers: list[Worker] = field(default_factory=list)

    def events_broker(self) -> Broker:
        """A new, unconnected broker on the events queue."""
        return from_url(
            self.broker_url, events_queue(self.queue), max_redeliveries=EVENTS_MAX_REDELIVERIES
        )

    async def events_broker_depth(self) -> int:
        """How many events messages wait in the events queue."""
        broker = self.events_broker()
        await broker.connect()
        try:
            return (await broker.depth()).ready
        finally:
            await broker.close()

    async def start_consumer(self) -> EventsConsumer:
        """Start the API's events consumer (as ``jobqueue api`` runs it)."""
        assert self.consumer is None
        self.consumer = EventsConsumer(self.events_broker(), self.store, self.tracking.watch)
        await self.consumer.start()
        return self.consumer

    async def stop_consumer(self) -> None:
        """Stop the events consumer (as when the API goes down)."""
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    def worker(self, handlers: Handlers, *, status: bool = True, **options: Any) -> Worker:
        """A worker on its own broker connection, reporting status through the events queue."""
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("concurrency", 4)
        reporter = StatusReporter(self.events_broker()) if status else None
        broker = from_url(self.broker_url, self.queue)
        worker = Worker(broker, handlers, queue=self.queue, status=reporter, **options)
        self.workers.append(worker)
        return worker

    async def burst(self, handlers: Handlers, **options: Any) -> Worker:
        """Run a burst worker until the queue is empty and nothing is in flight."""
        worker = self.worker(handlers, burst=True, **options)
        await worker.run()
        return worker

    async def submit(self, job_type: str, payload: Any = None, **fields: Any) -> str:
        """``POST /jobs``; the new job's id."""
        body = {"type": job_type, "payload": payload if payload is not None else {}, **fields}
        response = await self.client.post("/jobs", json=body)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    async def job(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/{id}``."""
        response = await self.client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def history(self, job_id: str) -> list[dict[str, Any]]:
        """``GET /jobs/{id}/events``: the events, oldest first."""
        response = await self.client.get(f"/jobs/{job_id}/events")
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    async def kinds(self, job_id: str) -> list[str]:
        """The kinds of the job's history, in order."""
        return [event["kind"] for event in await self.history(job_id)]

    async def final(self, job_id: str, timeout_s: float = WAIT_S) -> dict[str, Any]:
        """The job once it is final (long-polling ``GET /jobs/{id}?wait=``)."""
        async with asyncio.timeout(timeout_s):
            while True:
                response = await self.client.get(f"/jobs/{job_id}", params={"wait": 5})
                job: dict[str, Any] = response.json()
                if job["state"] in ("succeeded", "dead", "cancelled"):
                    return job


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the test is parametrized with ``BACKENDS``."""
    return str(getattr(request, "param", "sqlite"))


@contextlib.asynccontextmanager
async def _place(backend: str, tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    """Broker URL, queue and store URL; RabbitMQ queues and PostgreSQL schemas removed after."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobqueue.db'}"
        yield url, "jobs", default_store_url(url)  # the embedded default
        return
    queue, schema = fresh_queue_name(), f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield RABBITMQ_URL, queue, f"{POSTGRES_URL}?schema={schema}"
    finally:
        await asyncio.to_thread(delete_queues, RABBITMQ_URL, queue)  # its events queue too
        await drop_schema(schema)


@pytest.fixture
async def system(backend: str, tmp_path: Path) -> AsyncIterator[System]:
    """The whole status system, with the events consumer running."""
    async with _place(backend, tmp_path) as (url, queue, store_url), open_store(store_url) as store:
        broker = from_url(url, queue)
        await broker.connect()
        tracking = Tracking(store)
        app = create_app(broker, tracking=tracking)
        async with asgi_client(app) as client:
            system = System(url, queue, store, broker, client, tracking)
            await system.start_consumer()
            try:
                yield system
            finally:
                for worker in system.workers:
                    await worker.stop()
                await system.stop_consumer()
                await broker.close()
