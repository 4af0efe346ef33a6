"""Fixtures for the broker tests: the RabbitMQ ones come from ``tests.brokers.rabbit``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobqueue.brokers import Broker
from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.testing.broker import BrokerFactory
from tests.brokers.rabbit import (
    private_rabbitmq,
    rabbitmq_broker,
    rabbitmq_broker_factory,
    rabbitmq_vhost,
)

__all__ = ["private_rabbitmq", "rabbitmq_broker", "rabbitmq_broker_factory", "rabbitmq_vhost"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a fresh SQLite broker file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'broker.db'}"


@pytest.fixture
def sqlite_broker_factory(sqlite_url: str) -> BrokerFactory:
    """Connected SQLite brokers on one queue of a fresh file (the conformance suite's factory)."""

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[Broker]:
        broker = SqliteBroker(sqlite_url, queue="conformance")
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.close()

    return make
