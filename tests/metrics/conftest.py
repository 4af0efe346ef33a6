"""A metered API in process: SQLite broker and store, the events consumer feeding the
metrics, a worker registry, and workers that report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobqueue.api.app import create_app
from jobqueue.api.events import EventsConsumer
from jobqueue.api.tracking import Tracking
from jobqueue.brokers import Broker, from_url
from jobqueue.handlers import Handlers
from jobqueue.metrics import Metrics, MetricsSettings
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.store import Store, default_store_url
from jobqueue.store.transport import EVENTS_MAX_REDELIVERIES, events_queue
from jobqueue.worker import Worker
from jobqueue.worker.status import StatusReporter
from tests.api.conftest import asgi_client
from tests.store.conftest import open_store
from tests.worker.conftest import FAST_RETRY

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition by name and sorted labels."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def values(found: Samples, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples named ``name`` whose labels include ``labels``."""
    return {
        key: value
        for (sample, key), value in found.items()
        if sample == name and set(labels.items()) <= set(key)
    }


@dataclass
class Metered:
    """One test's metered API and what it runs on."""

    url: str
    store: Store
    broker: Broker
    registry: InMemoryRegistry
    metrics: Metrics
    client: httpx.AsyncClient
    consumer: EventsConsumer
    workers: list[Worker] = field(default_factory=list)

    async def scrape(self) -> str:
        """``GET /metrics``'s text."""
        response = await self.client.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=")
        return response.text

    async def submit(self, job_type: str) -> str:
        """``POST /jobs``; the job's id."""
        response = await self.client.post("/jobs", json={"type": job_type, "payload": {}})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    async def burst(self, handlers: Handlers) -> None:
        """Drain the queue with a reporting worker."""
        events = from_url(self.url, events_queue("jobs"), max_redeliveries=EVENTS_MAX_REDELIVERIES)
        worker = Worker(
            from_url(self.url),
            handlers,
            status=StatusReporter(events),
            retry=FAST_RETRY,
            concurrency=4,
            burst=True,
        )
        self.workers.append(worker)
        await worker.run()

    async def settled(self, job_ids: list[str]) -> None:
        """Wait until the store shows every job final (long-polling each)."""
        async with asyncio.timeout(20):
            for job_id in job_ids:
                state = ""
                while state not in ("succeeded", "dead", "cancelled"):
                    response = await self.client.get(f"/jobs/{job_id}", params={"wait": 5})
                    state = response.json()["state"]


def metered_app(
    broker: Broker, store: Store, registry: InMemoryRegistry, settings: MetricsSettings
) -> tuple[Metrics, Tracking, httpx.AsyncClient]:
    """The API app over ``store`` with metrics, and a client of it (not yet entered)."""
    metrics = Metrics("jobs", broker, store, registry, settings=settings)
    tracking = Tracking(store)
    app = create_app(broker, registry, tracking=tracking, metrics=metrics)
    return metrics, tracking, asgi_client(app)


@pytest.fixture
def metrics_settings() -> MetricsSettings:
    """The metrics settings of the test's API; override to change the type bound."""
    return MetricsSettings()


@pytest.fixture
async def metered(tmp_path: Path, metrics_settings: MetricsSettings) -> AsyncIterator[Metered]:
    """The metered API with its events consumer running."""
    url = f"sqlite:///{tmp_path / 'jobqueue.db'}"
    async with open_store(default_store_url(url)) as store:
        broker = from_url(url)
        await broker.connect()
        registry = InMemoryRegistry()
        metrics, tracking, unentered = metered_app(broker, store, registry, metrics_settings)
        events = from_url(url, events_queue("jobs"), max_redeliveries=EVENTS_MAX_REDELIVERIES)
        consumer = EventsConsumer(events, store, tracking.watch, on_applied=metrics.events.applied)
        await consumer.start()
        async with unentered as client:
            system = Metered(url, store, broker, registry, metrics, client, consumer)
            try:
                yield system
            finally:
                for worker in system.workers:
                    await worker.stop()
                await consumer.stop()
                await broker.close()
