"""Every broker backend passes the same conformance suite, ``jobqueue.testing.broker``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from jobqueue.brokers import Broker
from jobqueue.testing import broker as suite
from jobqueue.testing.broker import ALL_CHECKS, CHECK_IDS, BrokerFactory, Check
from tests.brokers.rabbit import BrokerFactory as RabbitmqFactory
from tests.brokers.rabbit import fresh_queue_name


@pytest.fixture
def rabbitmq_conformance_factory(rabbitmq_broker_factory: RabbitmqFactory) -> BrokerFactory:
    """Connected RabbitMQ brokers on one random queue (deleted after the test)."""
    queue = fresh_queue_name()

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[Broker]:
        broker = await rabbitmq_broker_factory(queue)
        try:
            yield broker
        finally:
            await broker.close()

    return make


@pytest.mark.parametrize("check", ALL_CHECKS, ids=CHECK_IDS)
async def test_sqlite_broker_conforms(check: Check, sqlite_broker_factory: BrokerFactory) -> None:
    await check(sqlite_broker_factory)


@pytest.mark.rabbitmq
@pytest.mark.parametrize("check", ALL_CHECKS, ids=CHECK_IDS)
async def test_rabbitmq_broker_conforms(
    check: Check, rabbitmq_conformance_factory: BrokerFactory
) -> None:
    await check(rabbitmq_conformance_factory)


def test_every_check_of_the_suite_is_in_all_checks_and_exported() -> None:
    checks = {name for name in vars(suite) if name.startswith("check_")}
    assert {check.__name__ for check in ALL_CHECKS} == checks
    assert checks <= set(suite.__all__)
