"""Fixtures of the worker tests: a broker (SQLite in a temp dir by default, RabbitMQ on a fresh
queue for tests marked ``BOTH_BACKENDS``) and ways to run workers on it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobqueue.brokers import Broker, from_url
from jobqueue.handlers import Handlers
from jobqueue.worker import RetryPolicy, Worker
from tests.brokers.rabbit import delete_queues, fresh_queue_name
from tests.services import RABBITMQ_URL

FAST_RETRY = RetryPolicy(base_s=0.01, cap_s=0.05)

BOTH_BACKENDS = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)], indirect=True
)


@dataclass(frozen=True)
class Place:
    """Where a test's jobs live: a broker URL and a queue."""

    url: str
    queue: str

    def broker(self) -> Broker:
        """A new, unconnected broker on this queue."""
        return from_url(self.url, queue=self.queue)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the test is parametrized with ``BOTH_BACKENDS``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def place(backend: str, tmp_path: Path) -> AsyncIterator[Place]:
    """A fresh SQLite file, or a fresh RabbitMQ queue deleted after the test."""
    if backend == "sqlite":
        yield Place(f"sqlite:///{tmp_path / 'broker.db'}", "jobs")
        return
    place = Place(RABBITMQ_URL, fresh_queue_name())
    yield place
    await asyncio.to_thread(delete_queues, place.url, place.queue)


@pytest.fixture
async def broker(place: Place) -> AsyncIterator[Broker]:
    """The test's own connection to the broker: it publishes and inspects, the worker has its
    own (a worker closes its broker when it stops)."""
    broker = place.broker()
    await broker.connect()
    yield broker
    await broker.close()


@pytest.fixture
def worker_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The worker's log records, from DEBUG up (the per-job lines are at DEBUG)."""
    caplog.set_level(logging.DEBUG, logger="jobqueue.worker")
    return caplog


def make_worker(place: Place, handlers: Handlers, **options: Any) -> Worker:
    """A worker on its own connection to the broker, retrying fast by default."""
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("concurrency", 4)
    options.setdefault("queue", place.queue)
    return Worker(place.broker(), handlers, **options)


async def run_burst(place: Place, handlers: Handlers, **options: Any) -> Worker:
    """Run a burst worker until the queue is empty and nothing is in flight."""
    worker = make_worker(place, handlers, burst=True, **options)
    await worker.run()
    return worker


async def eventually(check: Callable[[], object], timeout_s: float = 15.0) -> None:
    """Poll ``check`` until it is true (awaiting it if it is a coroutine function)."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)
