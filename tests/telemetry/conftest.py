"""Fixtures of the telemetry tests: an SDK tracer provider keeping its spans in memory, a
submission through a real API app and a burst worker on the same SQLite file."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jobqueue.api.app import create_app
from jobqueue.api.settings import ApiSettings
from jobqueue.brokers import Broker
from jobqueue.handlers import Handlers
from jobqueue.worker import Worker
from tests.api.conftest import asgi_client
from tests.worker.conftest import Place, run_burst

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@dataclass
class Traces:
    """A tracer provider and the spans it finished."""

    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """The finished spans (named ``name``), in the order they ended."""
        finished = self.exporter.get_finished_spans()
        return [span for span in finished if name is None or span.name == name]

    def one(self, name: str) -> ReadableSpan:
        """The one finished span named ``name``."""
        [span] = self.spans(name)
        return span


@pytest.fixture
def traces() -> Iterator[Traces]:
    """An SDK provider of its own (the global one is left alone), spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Traces(provider, exporter)
    provider.shutdown()


@pytest.fixture
def place(tmp_path: Path) -> Place:
    """The embedded broker's file of the test, queue ``jobs``."""
    return Place(f"sqlite:///{tmp_path / 'jobqueue.db'}", "jobs")


@pytest.fixture
async def broker(place: Place) -> AsyncIterator[Broker]:
    """The API's broker, connected."""
    broker = place.broker()
    await broker.connect()
    yield broker
    await broker.close()


async def submit(
    broker: Broker,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
    traces: Traces | None = None,
    queue: str = "jobs",
) -> httpx.Response:
    """POST ``body`` to ``path`` of a real app over ``broker`` (on ``queue``), traced with
    ``traces``."""
    provider = None if traces is None else traces.provider
    settings = ApiSettings(queue=queue, tracer_provider=provider)
    app = create_app(broker, settings=settings)
    async with asgi_client(app) as client:
        return await client.post(path, json=body, headers=headers or {})


async def run_jobs(place: Place, handlers: Handlers, traces: Traces | None = None) -> Worker:
    """Run a burst worker (traced with ``traces``) until the queue is empty."""
    provider = None if traces is None else traces.provider
    return await run_burst(place, handlers, tracer_provider=provider, worker_id="worker-1")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger (and pytest's capture handlers on it) back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("pika", "alembic")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)
