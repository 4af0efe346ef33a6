"""Priorities on RabbitMQ: off by default (the original's topology, messages without a
priority), on with ``max_priority`` (``JOBQUEUE_PRIORITIES``): the queue declared with
``x-max-priority`` and each job's message with its priority; a queue declared the other way
is a clear one-line error. Every queue here is a fresh one of this test's own."""

from __future__ import annotations

import asyncio
from typing import Any

import pika.exceptions
import pytest

from jobqueue import config
from jobqueue.brokers import from_url
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.errors import BrokerError, ConfigError
from jobqueue.testing.broker import sample_job
from tests.brokers.rabbit import BrokerFactory, fresh_queue_name, raw_channel
from tests.services import RABBITMQ_URL

pytestmark = pytest.mark.rabbitmq


def _original_arguments(queue: str) -> dict[str, Any]:
    return {"x-dead-letter-exchange": f"{queue}.dlx", "x-dead-letter-routing-key": f"{queue}.dlq"}


def _declares_as(queue: str, arguments: dict[str, Any]) -> bool:
    """Whether declaring ``queue`` with ``arguments`` is accepted as equivalent to it."""
    with raw_channel() as channel:
        try:
            channel.queue_declare(queue, durable=True, arguments=arguments)
        except pika.exceptions.ChannelClosedByBroker:
            return False
    return True


def _priorities_of_messages(queue: str, count: int) -> list[int | None]:
    """The ``priority`` property of the first ``count`` messages, in the order RabbitMQ
    hands them out (left in the queue)."""
    found: list[int | None] = []
    with raw_channel() as channel:
        for _ in range(count):
            method, props, _body = channel.basic_get(queue)
            assert method is not None
            found.append(props.priority)
        channel.basic_recover(requeue=True)
    return found


async def test_with_priorities_the_queue_has_x_max_priority_and_messages_their_priority(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker = await rabbitmq_broker_factory(max_priority=10)
    queue = broker.names.queue
    await broker.publish([sample_job(0), sample_job(1, priority=7), sample_job(2, priority=3)])
    priorities = await asyncio.to_thread(_priorities_of_messages, queue, 3)
    assert priorities == [7, 3, None]  # none for the default: the message as it always was
    with_priorities = {**_original_arguments(queue), "x-max-priority": 10}
    assert await asyncio.to_thread(_declares_as, queue, with_priorities)


async def test_by_default_the_topology_and_messages_stay_the_originals(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker = await rabbitmq_broker_factory()
    queue = broker.names.queue
    await broker.publish([sample_job(0, priority=7)])
    assert await asyncio.to_thread(_priorities_of_messages, queue, 1) == [None]
    assert await asyncio.to_thread(_declares_as, queue, _original_arguments(queue))


@pytest.mark.parametrize(("first", "then"), [(0, 10), (10, 0), (10, 5)])
async def test_a_queue_declared_with_other_priorities_is_a_clear_one_line_error(
    rabbitmq_broker_factory: BrokerFactory, first: int, then: int
) -> None:
    queue = fresh_queue_name()
    await rabbitmq_broker_factory(queue, max_priority=first)
    with pytest.raises(BrokerError) as raised:
        await rabbitmq_broker_factory(queue, max_priority=then)
    message = str(raised.value)
    assert "\n" not in message
    assert f"queue {queue!r} exists with another x-max-priority" in message
    assert "RabbitMQ cannot change it in place" in message
    assert "new queue name (JOBQUEUE_QUEUE)" in message
    assert "drain, delete and redeclare it" in message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_priority": 256}, r"0 \(off\) to 255"),
        ({"max_priority": -1}, r"0 \(off\) to 255"),
        ({"max_priority": 10, "queue_type": "quorum"}, "need classic queues"),
    ],
)
def test_a_priority_setting_rabbitmq_cannot_honour_is_a_config_error(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        RabbitmqBroker(RABBITMQ_URL, "unused", **options)


def test_the_priorities_setting_is_read_and_passed_to_rabbitmq_only() -> None:
    assert config.priorities("") == 0
    assert config.priorities(" 10 ") == 10
    for bad in ("ten", "-1", "256", "1.5"):
        with pytest.raises(ConfigError, match="JOBQUEUE_PRIORITIES must be 0"):
            config.priorities(bad)
    broker = from_url(RABBITMQ_URL, "unused", priorities=10)
    assert isinstance(broker, RabbitmqBroker)
    assert broker.max_priority == 10
    from_url("sqlite:///unused.db", priorities=10)  # the embedded broker always orders
