"""Fixtures of the worker tests: a SQLite broker in a temp dir, and a way to run a worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from jobqueue.brokers import Broker, from_url
from jobqueue.handlers import Handlers
from jobqueue.worker import RetryPolicy, Worker

FAST_RETRY = RetryPolicy(base_s=0.01, cap_s=0.05)


@pytest.fixture
def url(tmp_path: Path) -> str:
    """The URL of a fresh SQLite broker database."""
    return f"sqlite:///{tmp_path / 'broker.db'}"


@pytest.fixture
async def broker(url: str) -> AsyncIterator[Broker]:
    """The test's own connection to the broker: it publishes and inspects, the worker has its
    own (a worker closes its broker when it stops)."""
    broker = from_url(url)
    await broker.connect()
    yield broker
    await broker.close()


@pytest.fixture
def worker_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The worker's log records, from INFO up."""
    caplog.set_level(logging.INFO, logger="jobqueue.worker")
    return caplog


def make_worker(url: str, handlers: Handlers, **options: Any) -> Worker:
    """A worker on its own connection to the broker at ``url``, retrying fast by default."""
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("concurrency", 4)
    return Worker(from_url(url), handlers, **options)


async def run_burst(url: str, handlers: Handlers, **options: Any) -> Worker:
    """Run a burst worker until the queue is empty and nothing is in flight."""
    worker = make_worker(url, handlers, burst=True, **options)
    await worker.run()
    return worker


async def eventually(check: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Poll ``check`` until it is true (awaiting it if it is a coroutine function)."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)
