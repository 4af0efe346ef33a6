"""RabbitmqBroker when RabbitMQ goes away: forced closes, a stopped node, a memory alarm."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse

import pytest

from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.errors import BrokerUnavailable
from jobqueue.job import Job
from tests.brokers.rabbit import (
    BrokerFactory,
    PrivateNode,
    eventually,
    next_delivery,
    rabbitmqctl,
)

pytestmark = pytest.mark.rabbitmq

RECOVERY_S = 30.0


def a_job() -> Job:
    return Job(type="email", payload={})


async def publishes(broker: RabbitmqBroker, job: Job) -> bool:
    """Whether a publish of ``job`` is confirmed right now."""
    try:
        await broker.publish([job])
    except BrokerUnavailable:
        return False
    return True


async def not_ready(broker: RabbitmqBroker) -> bool:
    return not await broker.is_ready()


async def test_consumer_and_publisher_resume_after_connections_are_force_closed(
    rabbitmq_vhost: str, rabbitmq_broker_factory: BrokerFactory
) -> None:
    broker = await rabbitmq_broker_factory(url=rabbitmq_vhost)
    deliveries = broker.deliveries(prefetch=10)
    in_flight = a_job()
    await broker.publish([in_flight])
    unsettled = await next_delivery(deliveries)

    vhost = urllib.parse.unquote(urllib.parse.urlsplit(rabbitmq_vhost).path[1:])
    await asyncio.to_thread(rabbitmqctl, "close_all_connections", "-p", vhost, "test restart")

    # The job in flight when the connection went comes back; settling the old copy does nothing.
    again = await next_delivery(deliveries, timeout_s=RECOVERY_S)
    assert (again.message_id, again.redelivered) == (in_flight.id, True)
    await broker.ack(unsettled)
    await broker.ack(again)
    after = a_job()
    await eventually(lambda: publishes(broker, after), timeout_s=RECOVERY_S)
    delivery = await next_delivery(deliveries, timeout_s=RECOVERY_S)
    assert delivery.message_id == after.id
    await broker.ack(delivery)
    assert await broker.is_ready()


async def test_a_stopped_broker_fails_publishes_fast_and_everything_recovers_after_start(
    private_rabbitmq: PrivateNode,
    rabbitmq_broker_factory: BrokerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    node = private_rabbitmq
    consuming = await rabbitmq_broker_factory(url=node.url)
    late = await rabbitmq_broker_factory(url=node.url)
    deliveries = consuming.deliveries(prefetch=10)
    await consuming.publish([a_job()])
    await consuming.ack(await next_delivery(deliveries))

    await asyncio.to_thread(node.ctl, "stop_app")
    try:
        await eventually(lambda: not_ready(consuming))
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable) as caught:
            await consuming.publish([a_job()])
        assert time.monotonic() - started < 2.0
        assert caught.value.retry_after_s >= 1
        # Starting to consume while the broker is down does not fail: it waits for it.
        late_deliveries = late.deliveries(prefetch=1)
        late_next = asyncio.ensure_future(next_delivery(late_deliveries, timeout_s=60))
        await asyncio.sleep(0.2)
        assert not late_next.done()
    finally:
        await asyncio.to_thread(node.ctl, "start_app")

    job, late_job = a_job(), a_job()
    await eventually(lambda: publishes(consuming, job), timeout_s=RECOVERY_S)
    delivery = await next_delivery(deliveries, timeout_s=RECOVERY_S)
    assert delivery.message_id == job.id
    await consuming.ack(delivery)
    await eventually(lambda: publishes(late, late_job), timeout_s=RECOVERY_S)
    assert (await asyncio.wait_for(late_next, RECOVERY_S)).message_id == late_job.id
    assert node.password not in caplog.text


async def test_a_memory_alarm_fails_publishes_fast_until_it_clears(
    private_rabbitmq: PrivateNode, rabbitmq_broker_factory: BrokerFactory
) -> None:
    node = private_rabbitmq
    # A long confirm timeout: the publish must fail on the blocked notification, not on it.
    broker = await rabbitmq_broker_factory(url=node.url, confirm_timeout_s=60.0)
    await broker.publish([a_job()])
    await asyncio.to_thread(node.ctl, "set_vm_memory_high_watermark", "0.0000001")
    try:
        # RabbitMQ blocks (and notifies) a connection when it next publishes.
        with pytest.raises(BrokerUnavailable, match="refusing publishes"):
            async with asyncio.timeout(30):
                await broker.publish([a_job()])
        assert not await broker.is_ready()
        with pytest.raises(BrokerUnavailable, match="refusing publishes"):
            await broker.publish([a_job()])
    finally:
        await asyncio.to_thread(node.ctl, "set_vm_memory_high_watermark", "0.4")
    await eventually(broker.is_ready, timeout_s=RECOVERY_S)
    await eventually(lambda: publishes(broker, a_job()), timeout_s=RECOVERY_S)
