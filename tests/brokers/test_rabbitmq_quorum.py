"""Quorum queues (``queue_type="quorum"``) on a private node: the conformance suite, the
declared arguments, RabbitMQ's delivery limit as the backstop; classic stays the default."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from benchmarks.rabbitnode import PrivateNode
from jobqueue.brokers import Broker, DeadJob
from jobqueue.brokers.amqp.topology import QUORUM_DELIVERY_LIMIT
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.errors import ConfigError
from jobqueue.job import Job
from jobqueue.testing.broker import ALL_CHECKS, CHECK_IDS, BrokerFactory, Check
from tests.brokers.rabbit import (
    TEST_OPTIONS,
    delete_queues,
    fresh_queue_name,
    next_delivery,
    raw_channel,
)

DEAD_LETTER_WAIT_S = 10.0
POLL_S = 0.1

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def quorum_factory(private_rabbitmq: PrivateNode) -> AsyncIterator[BrokerFactory]:
    """Connected brokers on one random quorum queue of the private node, deleted after."""
    queue, url = fresh_queue_name(), private_rabbitmq.url

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[Broker]:
        broker = RabbitmqBroker(url, queue, queue_type="quorum", **TEST_OPTIONS)
        await broker.connect()
        try:
            yield broker
        finally:
            await broker.close()

    yield make
    await asyncio.to_thread(delete_queues, url, queue)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=CHECK_IDS)
async def test_rabbitmq_broker_on_quorum_queues_conforms(
    check: Check, quorum_factory: BrokerFactory
) -> None:
    await check(quorum_factory)


def queue_table(node: PrivateNode) -> dict[str, tuple[str, str]]:
    """Each queue of the node: its type and arguments, as rabbitmqctl prints them."""
    out = node.ctl("list_queues", "-q", "--no-table-headers", "name", "type", "arguments")
    rows = (line.split("\t") for line in out.strip().splitlines())
    return {row[0]: (row[1], row[2]) for row in rows if len(row) >= 3}


async def test_quorum_declares_the_queue_its_retries_and_dead_letters_as_quorum_queues(
    private_rabbitmq: PrivateNode,
) -> None:
    queue = fresh_queue_name()
    broker = RabbitmqBroker(private_rabbitmq.url, queue, queue_type="quorum", **TEST_OPTIONS)
    await broker.connect()
    try:
        await broker.publish([Job("email", {})])
        deliveries = broker.deliveries(prefetch=1)
        await broker.retry(await next_delivery(deliveries), Job("email", {}), 1.0)
        table = await asyncio.to_thread(queue_table, private_rabbitmq)
    finally:
        await broker.close()
        await asyncio.to_thread(delete_queues, private_rabbitmq.url, queue)
    kinds = {name: kind for name, (kind, _) in table.items() if name.startswith(queue)}
    assert kinds == {queue: "quorum", f"{queue}.dlq": "quorum", f"{queue}.retry.1000": "quorum"}
    assert f'"x-delivery-limit",{QUORUM_DELIVERY_LIMIT}' in table[queue][1].replace(" ", "")
    assert "at-least-once" in table[f"{queue}.retry.1000"][1]
    assert "x-delivery-limit" not in table[f"{queue}.dlq"][1]  # browsing it must not wear it out


async def test_the_default_stays_a_classic_queue_declared_as_the_original_declares_it(
    private_rabbitmq: PrivateNode,
) -> None:
    queue = fresh_queue_name()
    broker = RabbitmqBroker(private_rabbitmq.url, queue, **TEST_OPTIONS)
    await broker.connect()
    try:
        table = await asyncio.to_thread(queue_table, private_rabbitmq)
        # The original's declaration is accepted as equivalent: same type, same arguments.
        with raw_channel(private_rabbitmq.url) as channel:
            args = {"x-dead-letter-exchange": f"{queue}.dlx"}
            args["x-dead-letter-routing-key"] = f"{queue}.dlq"
            channel.queue_declare(queue, durable=True, arguments=args)
    finally:
        await broker.close()
        await asyncio.to_thread(delete_queues, private_rabbitmq.url, queue)
    assert table[queue][0] == "classic"
    assert "x-queue-type" not in table[queue][1]


async def test_a_message_handed_back_past_the_delivery_limit_is_dead_lettered_by_rabbitmq(
    private_rabbitmq: PrivateNode,
) -> None:
    queue, url = fresh_queue_name(), private_rabbitmq.url
    broker = RabbitmqBroker(url, queue, queue_type="quorum", **TEST_OPTIONS)
    await broker.connect()
    job = Job("email", {})
    try:
        await broker.publish([job])
        # A consumer that never counts (as the original's workers): it hands the job back.
        await asyncio.to_thread(_hand_back_until_gone, url, queue)
        dead = await _dead_letter_of(broker, job.id)
    finally:
        await broker.close()
        await asyncio.to_thread(delete_queues, url, queue)
    assert dead is not None
    assert dead.death.reason == "delivery_limit"


async def _dead_letter_of(broker: RabbitmqBroker, job_id: str) -> DeadJob:
    """The job's dead copy once RabbitMQ has moved it (its dead-lettering is asynchronous:
    the message leaves the queue before it lands in the dead-letter queue)."""
    for _ in range(round(DEAD_LETTER_WAIT_S / POLL_S)):
        dead = await broker.dead_job(job_id)
        if dead is not None:
            return dead
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"no dead copy of {job_id} after {DEAD_LETTER_WAIT_S:g}s")


def _hand_back_until_gone(url: str, queue: str) -> None:
    with raw_channel(url) as channel:
        for _ in range(QUORUM_DELIVERY_LIMIT + 5):
            method: Any = channel.basic_get(queue)[0]
            if method is None:
                return
            channel.basic_nack(method.delivery_tag, requeue=True)
    raise AssertionError("the message was never dead-lettered")


def test_the_embedded_broker_refuses_a_quorum_queue_type() -> None:
    from jobqueue.brokers import from_url

    with pytest.raises(ConfigError, match="needs RabbitMQ"):
        from_url("sqlite:///unused.db", queue_type="quorum")
