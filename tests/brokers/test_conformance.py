"""Every broker backend passes the same conformance suite, ``jobqueue.testing.broker``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from jobqueue.brokers import Broker
from jobqueue.testing import broker as suite
from jobqueue.testing.broker import (
    ALL_CHECKS,
    CHECK_IDS,
    PRIORITY_CHECK_IDS,
    PRIORITY_CHECKS,
    BrokerFactory,
    Check,
)
from tests.brokers.rabbit import BrokerFactory as RabbitmqFactory
from tests.brokers.rabbit import fresh_queue_name


def _rabbitmq_factory(rabbitmq_broker_factory: RabbitmqFactory, **options: int) -> BrokerFactory:
    queue = fresh_queue_name()

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[Broker]:
        broker = await rabbitmq_broker_factory(queue, **options)
        try:
            yield broker
        finally:
            await broker.close()

    return make


@pytest.fixture
def rabbitmq_conformance_factory(rabbitmq_broker_factory: RabbitmqFactory) -> BrokerFactory:
    """Connected RabbitMQ brokers on one random queue (deleted after the test)."""
    return _rabbitmq_factory(rabbitmq_broker_factory)


@pytest.fixture
def rabbitmq_priority_factory(rabbitmq_broker_factory: RabbitmqFactory) -> BrokerFactory:
    """The same on a random queue declared with priorities (``JOBQUEUE_PRIORITIES=10``)."""
    return _rabbitmq_factory(rabbitmq_broker_factory, max_priority=10)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=CHECK_IDS)
async def test_sqlite_broker_conforms(check: Check, sqlite_broker_factory: BrokerFactory) -> None:
    await check(sqlite_broker_factory)


@pytest.mark.rabbitmq
@pytest.mark.parametrize("check", ALL_CHECKS, ids=CHECK_IDS)
async def test_rabbitmq_broker_conforms(
    check: Check, rabbitmq_conformance_factory: BrokerFactory
) -> None:
    await check(rabbitmq_conformance_factory)


@pytest.mark.parametrize("check", PRIORITY_CHECKS, ids=PRIORITY_CHECK_IDS)
async def test_sqlite_broker_orders_by_priority(
    check: Check, sqlite_broker_factory: BrokerFactory
) -> None:
    await check(sqlite_broker_factory)


@pytest.mark.rabbitmq
@pytest.mark.parametrize("check", PRIORITY_CHECKS, ids=PRIORITY_CHECK_IDS)
async def test_rabbitmq_broker_with_priorities_orders_by_priority(
    check: Check, rabbitmq_priority_factory: BrokerFactory
) -> None:
    await check(rabbitmq_priority_factory)


def test_every_check_of_the_suite_is_in_all_checks_and_exported() -> None:
    checks = {name for name in vars(suite) if name.startswith("check_")}
    assert {check.__name__ for check in (*ALL_CHECKS, *PRIORITY_CHECKS)} == checks
    assert checks <= set(suite.__all__)
