"""RabbitmqBroker against the shared RabbitMQ: publish, consume, settle, retry, topology."""

from __future__ import annotations

import asyncio
import time

import pika
import pytest

from jobqueue.brokers import Broker, Death, DeathReason, QueueDepth, from_url
from jobqueue.brokers.amqp.topology import RETRY_LADDER_MS, retry_tier_ms
from jobqueue.brokers.rabbitmq import REDELIVERIES_HEADER, RabbitmqBroker
from jobqueue.errors import BrokerUnavailable
from jobqueue.job import Job
from tests.brokers.rabbit import BrokerFactory, eventually, next_delivery, rabbitmqctl, raw_channel
from tests.services import RABBITMQ_URL, free_port

pytestmark = pytest.mark.rabbitmq


def jobs(count: int, job_type: str = "email") -> list[Job]:
    return [Job(type=job_type, payload={"n": n}) for n in range(count)]


async def test_broker_satisfies_the_protocol_and_from_url_builds_it() -> None:
    broker = from_url("amqp://guest:guest@127.0.0.1:5672/", queue="q", max_redeliveries=3)
    assert isinstance(broker, RabbitmqBroker)
    assert isinstance(broker, Broker)


async def test_published_job_is_delivered_with_its_id_and_gone_once_acked(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker = await rabbitmq_broker_factory()
    job = Job(type="email", payload={"to": "a@b.c"})
    await broker.publish([job])
    deliveries = broker.deliveries(prefetch=10)
    delivery = await next_delivery(deliveries)
    assert (delivery.message_id, delivery.redelivered) == (job.id, False)
    assert Job.decode(delivery.body) == job
    await broker.ack(delivery)
    await broker.stop_consuming()
    await broker.close()

    # Unacked messages would be back in the queue now that the consuming connection is gone.
    again = await rabbitmq_broker_factory(broker.names.queue)
    assert await again.depth() == QueueDepth(ready=0, delayed=0, dead=0)


async def test_messages_and_queues_are_declared_as_the_original_declares_them(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    names = rabbitmq_broker.names
    job = Job(type="email", payload={})
    await rabbitmq_broker.publish([job])
    with raw_channel() as channel:
        # Redeclaring with the original's exact arguments succeeds only if they are equivalent.
        channel.queue_declare(
            names.queue,
            durable=True,
            arguments={"x-dead-letter-exchange": names.dlx, "x-dead-letter-routing-key": names.dlq},
        )
        channel.exchange_declare(names.dlx, exchange_type="direct", durable=True)
        channel.queue_declare(names.dlq, durable=True)
        method, props, body = channel.basic_get(names.queue, auto_ack=True)
    assert method is not None
    assert (props.delivery_mode, props.content_type, props.message_id) == (
        2,
        "application/json",
        job.id,
    )
    assert body == job.encode()


async def test_concurrent_publishes_are_all_confirmed(rabbitmq_broker: RabbitmqBroker) -> None:
    batches = [jobs(25) for _ in range(20)]
    await asyncio.gather(*(rabbitmq_broker.publish(batch) for batch in batches))
    assert (await rabbitmq_broker.depth()).ready == 500


async def test_batch_of_a_thousand_is_confirmed_and_delivered_in_order(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    batch = jobs(1000)
    await rabbitmq_broker.publish(batch)
    assert (await rabbitmq_broker.depth()).ready == 1000
    deliveries = rabbitmq_broker.deliveries(prefetch=200)
    received = []
    for _ in batch:
        delivery = await next_delivery(deliveries)
        received.append(delivery.message_id)
        await rabbitmq_broker.ack(delivery)
    assert received == [job.id for job in batch]


async def test_publishing_nothing_is_a_no_op(rabbitmq_broker: RabbitmqBroker) -> None:
    await rabbitmq_broker.publish([])
    assert (await rabbitmq_broker.depth()).ready == 0


async def test_retry_waits_in_a_ttl_queue_and_comes_back_after_the_delay(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    broker = rabbitmq_broker
    job = Job(type="email", payload={})
    await broker.publish([job])
    deliveries = broker.deliveries(prefetch=5)
    first = await next_delivery(deliveries)
    retried_at = time.monotonic()
    await broker.retry(first, job.next_attempt(), delay_s=0.5)
    with raw_channel() as channel:
        waiting = channel.queue_declare(broker.names.retry(500), passive=True).method.message_count
    assert waiting in (0, 1)  # 0 only if it already expired on a slow machine

    second = await next_delivery(deliveries)
    assert time.monotonic() - retried_at >= 0.4
    assert Job.decode(second.body).attempts == 1
    assert second.message_id == job.id
    await broker.ack(second)
    await broker.stop_consuming()
    await broker.close()
    with raw_channel() as channel:
        assert channel.queue_declare(broker.names.queue, passive=True).method.message_count == 0


async def test_retry_without_delay_goes_straight_back_to_the_queue(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    job = Job(type="email", payload={})
    await rabbitmq_broker.publish([job])
    deliveries = rabbitmq_broker.deliveries(prefetch=5)
    await rabbitmq_broker.retry(await next_delivery(deliveries), job.next_attempt(), delay_s=0)
    again = await next_delivery(deliveries)
    assert Job.decode(again.body).attempts == 1


def test_retry_delays_are_quantised_to_the_nearest_tier_of_the_ladder() -> None:
    assert retry_tier_ms(0) is None
    assert retry_tier_ms(-1) is None
    assert retry_tier_ms(0.001) == 100
    assert retry_tier_ms(1) == 1_000
    assert retry_tier_ms(3) == 2_000
    assert retry_tier_ms(4) == 5_000
    assert retry_tier_ms(10**9) == 86_400_000
    assert retry_tier_ms(float("inf")) == 86_400_000
    assert list(RETRY_LADDER_MS) == sorted(RETRY_LADDER_MS)


async def test_only_the_last_attempt_reaches_the_dead_letter_queue(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    broker = rabbitmq_broker
    job = Job(type="email", payload={}, max_attempts=3)
    await broker.publish([job])
    deliveries = broker.deliveries(prefetch=5)
    for _ in range(2):
        delivery = await next_delivery(deliveries)
        await broker.retry(delivery, Job.decode(delivery.body).next_attempt(), delay_s=0)
    last = await next_delivery(deliveries)
    assert Job.decode(last.body).attempts == 2
    await broker.dead_letter(last, Death(reason=DeathReason.MAX_ATTEMPTS, attempts=3))
    await broker.stop_consuming()

    dead = await broker.dead_jobs()
    assert [(d.message_id, d.job.attempts if d.job else None) for d in dead] == [(job.id, 2)]
    await eventually(lambda: _depth_is(broker, QueueDepth(ready=0, delayed=0, dead=1)))


async def _depth_is(broker: RabbitmqBroker, expected: QueueDepth) -> bool:
    return await broker.depth() == expected


async def test_unacked_delivery_is_redelivered_after_its_consumer_closes(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    first_worker = await rabbitmq_broker_factory()
    job = Job(type="email", payload={})
    await first_worker.publish([job])
    taken = await next_delivery(first_worker.deliveries(prefetch=1))
    assert not taken.redelivered
    await first_worker.close()  # dies without settling

    second_worker = await rabbitmq_broker_factory(first_worker.names.queue)
    again = await next_delivery(second_worker.deliveries(prefetch=1))
    assert (again.message_id, again.body, again.redelivered) == (job.id, job.encode(), True)
    await second_worker.ack(again)


async def test_released_delivery_comes_back_flagged_as_redelivered(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    job = Job(type="email", payload={})
    await rabbitmq_broker.publish([job])
    deliveries = rabbitmq_broker.deliveries(prefetch=1)
    await rabbitmq_broker.release(await next_delivery(deliveries))
    again = await next_delivery(deliveries)
    assert (again.message_id, again.redelivered) == (job.id, True)
    await rabbitmq_broker.ack(again)


async def test_redelivery_count_travels_in_a_header_of_a_fresh_copy(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    worker = await rabbitmq_broker_factory()
    await worker.publish([Job(type="email", payload={})])
    await next_delivery(worker.deliveries(prefetch=1))
    await worker.close()
    second = await rabbitmq_broker_factory(worker.names.queue)
    assert (await next_delivery(second.deliveries(prefetch=1))).redelivered
    await second.close()  # dies too: the copy it had comes back, counted once so far
    with raw_channel() as channel:
        method, props, _ = channel.basic_get(worker.names.queue, auto_ack=True)
    assert method is not None
    assert method.redelivered
    assert props.headers[REDELIVERIES_HEADER] == 1


async def test_stop_consuming_ends_the_iterator_and_taken_deliveries_can_still_be_acked(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    broker = await rabbitmq_broker_factory()
    await broker.publish(jobs(5))
    deliveries = broker.deliveries(prefetch=5)
    taken = await next_delivery(deliveries)
    await broker.stop_consuming()
    with pytest.raises(StopAsyncIteration):
        await next_delivery(deliveries)
    await broker.ack(taken)
    await broker.close()
    # The four prefetched but never handed out went back; the acked one did not.
    assert (await (await rabbitmq_broker_factory(broker.names.queue)).depth()).ready == 4


async def test_consuming_again_after_stop_resumes_delivery(rabbitmq_broker: RabbitmqBroker) -> None:
    await rabbitmq_broker.publish(jobs(2))
    first = rabbitmq_broker.deliveries(prefetch=1)
    await rabbitmq_broker.ack(await next_delivery(first))
    await rabbitmq_broker.stop_consuming()
    second = rabbitmq_broker.deliveries(prefetch=1)
    await rabbitmq_broker.ack(await next_delivery(second))
    await rabbitmq_broker.stop_consuming()


async def test_unroutable_publish_raises_broker_unavailable(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    with raw_channel() as channel:
        channel.queue_delete(rabbitmq_broker.names.queue)
    with pytest.raises(BrokerUnavailable, match="could not route"):
        await rabbitmq_broker.publish([Job(type="email", payload={})])
    assert await rabbitmq_broker.is_ready()


async def test_a_publish_the_broker_refuses_raises_and_a_retry_keeps_the_original(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    broker = rabbitmq_broker
    original = Job(type="email", payload={})
    await broker.publish([original])
    delivery = await next_delivery(broker.deliveries(prefetch=1))
    queue = broker.names.queue
    # A queue that takes no more messages: RabbitMQ answers publishes with basic.nack.
    policy = '{"max-length": 0, "overflow": "reject-publish"}'
    await asyncio.to_thread(
        rabbitmqctl, "set_policy", queue, f"^{queue}$", policy, "--apply-to", "queues"
    )
    try:
        await eventually(lambda: _refused(broker))
        with pytest.raises(BrokerUnavailable, match="refused"):
            await broker.retry(delivery, Job.decode(delivery.body).next_attempt(), delay_s=0)
    finally:
        await asyncio.to_thread(rabbitmqctl, "clear_policy", queue)
    await broker.stop_consuming()
    await broker.close()
    with raw_channel() as channel:  # the original was not acked: it is back at the head
        method, props, _ = channel.basic_get(queue, auto_ack=True)
    assert method is not None
    assert props.message_id == original.id


async def _refused(broker: RabbitmqBroker) -> bool:
    try:
        await broker.publish(jobs(3))
    except BrokerUnavailable as exc:
        return "refused" in str(exc)
    return False


async def test_connect_to_nothing_raises_without_showing_the_password() -> None:
    url = f"amqp://guest:s3cret-pw@127.0.0.1:{free_port()}/"
    broker = RabbitmqBroker(url, "jobs", connect_timeout_s=2.0)
    with pytest.raises(BrokerUnavailable) as caught:
        await broker.connect()
    assert "s3cret-pw" not in str(caught.value)
    assert "guest:***@127.0.0.1" in str(caught.value)
    assert not await broker.is_ready()
    await broker.close()


async def test_connect_to_a_server_that_never_answers_gives_up_after_the_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def say_nothing(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    broker = RabbitmqBroker(f"amqp://guest:guest@127.0.0.1:{port}/", connect_timeout_s=0.5)
    async with server:
        with pytest.raises(BrokerUnavailable, match="cannot connect"):
            async with asyncio.timeout(10):
                await broker.connect()
        for writer in accepted:
            writer.close()
            await writer.wait_closed()
    assert accepted
    await broker.close()


async def test_publish_before_connect_fails_fast() -> None:
    broker = RabbitmqBroker(RABBITMQ_URL, "jobs")
    with pytest.raises(BrokerUnavailable, match="not connected"):
        await broker.publish([Job(type="email", payload={})])


async def test_channel_closed_by_the_broker_is_reopened_and_consuming_resumes(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    broker = rabbitmq_broker
    await broker.publish(jobs(1))
    deliveries = broker.deliveries(prefetch=1)
    delivery = await next_delivery(deliveries)
    await broker.ack(delivery)
    # A second ack of the same tag is a protocol error: RabbitMQ closes the channel (406).
    delivery.token.channel.raw.basic_ack(delivery.token.delivery_tag)  # type: ignore[attr-defined]
    await eventually(lambda: _closed(delivery))
    job = Job(type="email", payload={})
    await eventually(lambda: _publishes(broker, job))
    again = await next_delivery(deliveries)
    assert again.message_id == job.id


async def _closed(delivery: object) -> bool:
    return not delivery.token.channel.is_open  # type: ignore[attr-defined]


async def _publishes(broker: RabbitmqBroker, job: Job) -> bool:
    try:
        await broker.publish([job])
    except BrokerUnavailable:
        return False
    return True


async def test_raw_pika_publish_without_message_id_is_delivered_with_the_job_id(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    job = Job(type="email", payload={})
    with raw_channel() as channel:
        channel.basic_publish(
            "", rabbitmq_broker.names.queue, job.encode(), pika.BasicProperties(delivery_mode=2)
        )
    delivery = await next_delivery(rabbitmq_broker.deliveries(prefetch=1))
    assert delivery.message_id == job.id
