"""Coalesced settlements: one multiple ack per loop turn, never over an unsettled one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobqueue.brokers import Death, DeathReason, Delivery, QueueDepth
from jobqueue.brokers.amqp.consumer import Settlements, Token
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.job import Job
from tests.brokers.rabbit import BrokerFactory, eventually, next_delivery

pytestmark = pytest.mark.rabbitmq


def jobs(count: int) -> list[Job]:
    return [Job(type="email", payload={"n": n}) for n in range(count)]


async def take(broker: RabbitmqBroker, count: int) -> list[Delivery]:
    deliveries = broker.deliveries(prefetch=count)
    return [await next_delivery(deliveries) for _ in range(count)]


async def consuming(factory: BrokerFactory, count: int) -> tuple[RabbitmqBroker, list[Delivery]]:
    """A fresh broker with ``count`` jobs published, and the deliveries of them all, unsettled."""
    broker = await factory()
    await broker.publish(jobs(count))
    return broker, await take(broker, count)


def record_frames(delivery: Delivery) -> list[tuple[str, int, bool]]:
    """Record every ack and nack the delivery's channel sends from now on (and still send it)."""
    token = delivery.token
    assert isinstance(token, Token)
    raw, sent = token.channel.raw, []

    def recording(method: str) -> Any:
        send = getattr(raw, method)

        def record(delivery_tag: int, multiple: bool = False, **kwargs: Any) -> None:
            sent.append((method, delivery_tag, multiple))
            send(delivery_tag, multiple=multiple, **kwargs)

        return record

    raw.basic_ack, raw.basic_nack = recording("basic_ack"), recording("basic_nack")
    return sent


def tag(delivery: Delivery) -> int:
    assert isinstance(delivery.token, Token)
    return delivery.token.delivery_tag


async def next_turn() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def depth_after_closing(factory: BrokerFactory, broker: RabbitmqBroker) -> QueueDepth:
    await broker.close()  # anything left unacked goes back to the queue now
    return await (await factory(broker.names.queue)).depth()


async def test_the_acks_of_one_turn_go_out_as_one_multiple_ack(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker, taken = await consuming(rabbitmq_broker_factory, 50)
    sent = record_frames(taken[0])
    for delivery in taken:
        await broker.ack(delivery)
    await next_turn()
    assert sent == [("basic_ack", tag(taken[-1]), True)]
    assert await depth_after_closing(rabbitmq_broker_factory, broker) == QueueDepth(0, 0, 0)


async def test_acks_above_an_unsettled_delivery_go_out_one_by_one(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker, (first, second, third) = await consuming(rabbitmq_broker_factory, 3)
    sent = record_frames(first)
    await broker.ack(second)
    await broker.ack(third)
    await next_turn()
    assert sent == [("basic_ack", tag(second), False), ("basic_ack", tag(third), False)]
    await broker.ack(first)
    await next_turn()
    assert sent[2:] == [("basic_ack", tag(first), True)]
    assert await depth_after_closing(rabbitmq_broker_factory, broker) == QueueDepth(0, 0, 0)


async def test_later_acks_never_settle_an_earlier_retry_release_or_dead_letter(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker, (dead, retried, released, *done) = await consuming(rabbitmq_broker_factory, 6)
    for delivery in done:  # acked before the earlier three are settled
        await broker.ack(delivery)
    await next_turn()
    await broker.release(released)
    await broker.retry(retried, Job.decode(retried.body).next_attempt(), 0)
    await broker.dead_letter(dead, Death(DeathReason.REJECTED, error="no"))
    # The released one comes back flagged and is counted as a fresh copy; the retry's copy too.
    assert await depth_after_closing(rabbitmq_broker_factory, broker) == QueueDepth(2, 0, 1)


async def test_a_nack_in_the_same_turn_goes_out_before_the_multiple_ack(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker, (first, second, third) = await consuming(rabbitmq_broker_factory, 3)
    sent = record_frames(first)
    await broker.ack(first)
    await broker.release(second)
    await broker.ack(third)
    await next_turn()
    assert sent == [("basic_nack", tag(second), False), ("basic_ack", tag(third), True)]
    await broker.stop_consuming()
    assert await depth_after_closing(rabbitmq_broker_factory, broker) == QueueDepth(1, 0, 0)


async def test_settlements_waiting_for_the_turn_are_sent_when_the_broker_closes(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker, taken = await consuming(rabbitmq_broker_factory, 4)
    for delivery in taken:
        await broker.ack(delivery)
    assert await depth_after_closing(rabbitmq_broker_factory, broker) == QueueDepth(0, 0, 0)


async def test_an_old_unsettled_delivery_does_not_make_the_order_grow_without_bound(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker, (held, other) = await consuming(rabbitmq_broker_factory, 2)
    assert isinstance(held.token, Token)
    settlements: Settlements = held.token.settlements
    for fake_tag in range(1000, 6000):  # tags past the held one, settled at once
        settlements.delivered(fake_tag)
        settlements._unsettled.discard(fake_tag)
    settlements.flush()
    await broker.ack(other)
    await next_turn()
    assert len(settlements._order) < 2000
    await broker.ack(held)
    await eventually(lambda: _empty(broker))


async def _empty(broker: RabbitmqBroker) -> bool:
    return (await broker.depth()).ready == 0
