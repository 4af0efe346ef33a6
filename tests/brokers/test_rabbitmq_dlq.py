"""RabbitmqBroker's dead-letter queue: reasons, redelivery limit, list, show, replay, purge."""

from __future__ import annotations

import asyncio

import pika
import pytest

from jobqueue.brokers import Death, DeathReason, QueueDepth
from jobqueue.brokers.amqp.dlq import TEXT_MAX_CHARS
from jobqueue.brokers.rabbitmq import RabbitmqBroker
from jobqueue.errors import DecodeError
from jobqueue.job import Job
from tests.brokers.rabbit import BrokerFactory, eventually, next_delivery, raw_channel

pytestmark = pytest.mark.rabbitmq


async def dead_letter_all(broker: RabbitmqBroker, bodies: list[bytes], death: Death) -> None:
    """Publish ``bodies`` raw to the queue, then consume and dead-letter each."""
    with raw_channel() as channel:
        for body in bodies:
            channel.basic_publish("", broker.names.queue, body)
    deliveries = broker.deliveries(prefetch=len(bodies))
    for _ in bodies:
        await broker.dead_letter(await next_delivery(deliveries), death)
    await broker.stop_consuming()


async def test_dead_letter_carries_every_death_field_and_leaves_the_queue_empty(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    broker = rabbitmq_broker
    job = Job(type="email", payload={"to": "a@b.c"}, attempts=2, max_attempts=3)
    death = Death(
        reason=DeathReason.MAX_ATTEMPTS,
        error="ValueError: bad address",
        traceback="Traceback (most recent call last):\n  ...\nValueError: bad address\n",
        attempts=3,
        worker_id="worker-7",
        failed_at="2026-01-02T03:04:05.678Z",
        first_failed_at="2026-01-02T03:00:00.000Z",
    )
    await broker.publish([job])
    await broker.dead_letter(await next_delivery(broker.deliveries(prefetch=1)), death)
    await broker.stop_consuming()

    [dead] = await broker.dead_jobs()
    assert (dead.message_id, dead.body, dead.death, dead.job) == (job.id, job.encode(), death, job)
    assert await broker.depth() == QueueDepth(ready=0, delayed=0, dead=1)


async def test_a_long_traceback_is_cut_keeping_its_end(rabbitmq_broker: RabbitmqBroker) -> None:
    traceback = "frame\n" * 10_000 + "KeyError: 'the end'"
    await dead_letter_all(
        rabbitmq_broker, [b"{}"], Death(reason=DeathReason.UNDECODABLE, traceback=traceback)
    )
    [dead] = await rabbitmq_broker.dead_jobs()
    assert dead.death.traceback is not None
    assert len(dead.death.traceback) < TEXT_MAX_CHARS + 100
    assert dead.death.traceback.endswith("KeyError: 'the end'")


async def test_message_that_keeps_killing_workers_is_dead_lettered(
    rabbitmq_broker_factory: BrokerFactory,
) -> None:
    first = await rabbitmq_broker_factory(max_redeliveries=2)
    queue = first.names.queue
    job = Job(type="crash", payload={})
    await first.publish([job])
    # The first delivery and two redeliveries reach a worker, which "crashes" without settling.
    for worker_number in range(3):
        worker = first if worker_number == 0 else await rabbitmq_broker_factory(queue)
        taken = await next_delivery(worker.deliveries(prefetch=1))
        assert taken.message_id == job.id
        await worker.close()
    # The third redelivery is past the limit: it comes with the broker's verdict, to be
    # dead-lettered rather than run.
    last = await rabbitmq_broker_factory(queue, max_redeliveries=2)
    worn = await next_delivery(last.deliveries(prefetch=1))
    assert worn.message_id == job.id
    assert worn.death is not None
    assert worn.death.reason == DeathReason.REDELIVERY_LIMIT
    assert "delivered 3 times without being settled" in (worn.death.error or "")
    await last.dead_letter(worn, worn.death)
    await eventually(lambda: _has_dead(last, job.id))
    dead = await last.dead_job(job.id)
    assert dead is not None
    assert dead.death == worn.death
    assert (await last.depth()).ready == 0


async def _has_dead(broker: RabbitmqBroker, message_id: str) -> bool:
    return await broker.dead_job(message_id) is not None


async def test_listing_the_dlq_keeps_every_message_in_order(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    jobs = [Job(type="email", payload={"n": n}) for n in range(5)]
    await dead_letter_all(
        rabbitmq_broker, [j.encode() for j in jobs], Death(reason=DeathReason.REJECTED)
    )
    ids = [j.id for j in jobs]
    assert [d.message_id for d in await rabbitmq_broker.dead_jobs()] == ids
    assert [d.message_id for d in await rabbitmq_broker.dead_jobs(limit=2)] == ids[:2]
    assert [d.message_id for d in await rabbitmq_broker.dead_jobs()] == ids
    assert await rabbitmq_broker.dead_jobs(limit=0) == []
    assert (await rabbitmq_broker.depth()).dead == 5


async def test_show_finds_one_dead_job_by_id_and_none_for_an_unknown_id(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    jobs = [Job(type="email", payload={"n": n}) for n in range(3)]
    await dead_letter_all(
        rabbitmq_broker, [j.encode() for j in jobs], Death(reason=DeathReason.REJECTED)
    )
    found = await rabbitmq_broker.dead_job(jobs[1].id)
    assert found is not None
    assert found.job == jobs[1]
    assert await rabbitmq_broker.dead_job("no-such-id") is None
    assert [d.message_id for d in await rabbitmq_broker.dead_jobs()] == [j.id for j in jobs]


async def test_replay_resets_attempts_and_removes_the_dead_copy(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    job = Job(type="email", payload={}, attempts=3, max_attempts=3)
    keep = Job(type="email", payload={})
    await dead_letter_all(
        rabbitmq_broker, [job.encode(), keep.encode()], Death(reason=DeathReason.MAX_ATTEMPTS)
    )
    replayed = await rabbitmq_broker.replay(job.id)
    assert replayed == job.fresh()
    assert [d.message_id for d in await rabbitmq_broker.dead_jobs()] == [keep.id]
    delivery = await next_delivery(rabbitmq_broker.deliveries(prefetch=1))
    assert Job.decode(delivery.body) == job.fresh()
    assert await rabbitmq_broker.replay("no-such-id") is None


async def test_replaying_an_undecodable_body_raises_and_leaves_it_dead(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    with raw_channel() as channel:
        channel.basic_publish(
            "",
            rabbitmq_broker.names.queue,
            b"not json",
            pika.BasicProperties(message_id="junk-1"),
        )
    death = Death(reason=DeathReason.UNDECODABLE, error="body is not valid JSON")
    await rabbitmq_broker.dead_letter(
        await next_delivery(rabbitmq_broker.deliveries(prefetch=1)), death
    )
    with pytest.raises(DecodeError):
        await rabbitmq_broker.replay("junk-1")
    [dead] = await rabbitmq_broker.dead_jobs()
    assert (dead.message_id, dead.body, dead.job) == ("junk-1", b"not json", None)


async def test_replay_all_replays_the_jobs_and_keeps_what_is_not_a_job(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    jobs = [Job(type="email", payload={"n": n}, attempts=1) for n in range(150)]
    bodies = [j.encode() for j in jobs[:75]] + [b"junk"] + [j.encode() for j in jobs[75:]]
    await dead_letter_all(rabbitmq_broker, bodies, Death(reason=DeathReason.MAX_ATTEMPTS))
    assert await rabbitmq_broker.replay_all() == 150
    [left] = await rabbitmq_broker.dead_jobs()
    assert left.body == b"junk"
    assert (await rabbitmq_broker.depth()).ready == 150
    assert await rabbitmq_broker.replay_all() == 0


async def test_purge_deletes_every_dead_job_and_counts_them(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    await dead_letter_all(rabbitmq_broker, [b"a", b"b", b"c"], Death(reason=DeathReason.REJECTED))
    assert await rabbitmq_broker.purge_dead() == 3
    assert await rabbitmq_broker.dead_jobs() == []
    assert await rabbitmq_broker.purge_dead() == 0


async def test_a_message_dead_lettered_by_rabbitmq_itself_is_listed_with_its_reason(
    rabbitmq_broker: RabbitmqBroker,
) -> None:
    # What the original Go worker does with a failed job: nack without requeue.
    rejected, expired = Job(type="email", payload={}, attempts=2), Job(type="email", payload={})
    queue = rabbitmq_broker.names.queue
    with raw_channel() as channel:
        channel.basic_publish("", queue, rejected.encode())
        method, _, _ = channel.basic_get(queue)
        channel.basic_reject(method.delivery_tag, requeue=False)
        channel.basic_publish("", queue, expired.encode(), pika.BasicProperties(expiration="1"))
    await eventually(lambda: _dead_count_is(rabbitmq_broker, 2))

    first, second = await rabbitmq_broker.dead_jobs()
    assert (first.message_id, first.death.reason, first.death.attempts) == (
        rejected.id,
        "rejected",
        2,
    )
    assert first.death.error is not None
    assert queue in first.death.error
    assert first.death.failed_at.endswith("Z")
    assert (second.message_id, second.death.reason) == (expired.id, "expired")
    assert await rabbitmq_broker.replay(rejected.id) == rejected.fresh()


async def _dead_count_is(broker: RabbitmqBroker, count: int) -> bool:
    return (await broker.depth()).dead == count


async def test_depth_counts_ready_delayed_and_dead(rabbitmq_broker: RabbitmqBroker) -> None:
    broker = rabbitmq_broker
    jobs = [Job(type="email", payload={"n": n}) for n in range(4)]
    await broker.publish(jobs)
    deliveries = broker.deliveries(prefetch=2)
    await broker.retry(await next_delivery(deliveries), jobs[0].next_attempt(), delay_s=3600)
    await broker.dead_letter(await next_delivery(deliveries), Death(reason=DeathReason.REJECTED))
    await broker.stop_consuming()
    await eventually(lambda: _depth_is(broker, QueueDepth(ready=2, delayed=1, dead=1)))


async def _depth_is(broker: RabbitmqBroker, expected: QueueDepth) -> bool:
    return await broker.depth() == expected


async def test_concurrent_listings_each_see_the_whole_dlq(rabbitmq_broker: RabbitmqBroker) -> None:
    jobs = [Job(type="email", payload={"n": n}) for n in range(3)]
    await dead_letter_all(
        rabbitmq_broker, [j.encode() for j in jobs], Death(reason=DeathReason.REJECTED)
    )
    listings = await asyncio.gather(*(rabbitmq_broker.dead_jobs() for _ in range(4)))
    assert all([d.message_id for d in listing] == [j.id for j in jobs] for listing in listings)
