"""The broker conformance suite: the behaviour every Broker backend shares, as public checks.

Each check is ``async def check_...(make_broker) -> None`` and raises ``AssertionError`` when
the backend misbehaves. ``make_broker`` takes no arguments and returns an async context
manager that yields a *connected* broker and closes it on exit; every broker one factory
makes works on the same queue, and that queue is used by no one else (a fresh SQLite file or
a random RabbitMQ queue name). A backend's tests run them all::

    @pytest.mark.parametrize("check", ALL_CHECKS, ids=CHECK_IDS)
    async def test_sqlite_broker_conforms(check: Check, sqlite_broker_factory: BrokerFactory):
        await check(sqlite_broker_factory)

The checks assert outcomes, not timings, with two exceptions that are part of the contract:
a retried job must not come back much sooner than its delay (half of it is allowed, for
backends that round delays to tiers), and a check that nothing arrives waits ``QUIET_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from jobqueue.brokers import Broker, DeadJob, Death, DeathReason, Delivery, QueueDepth
from jobqueue.errors import DecodeError
from jobqueue.job import Job

__all__ = [
    "ALL_CHECKS",
    "CHECK_IDS",
    "PRIORITY_CHECKS",
    "PRIORITY_CHECK_IDS",
    "BrokerFactory",
    "Check",
    "Inbox",
    "check_ack_removes_the_job",
    "check_batch_publish_delivers_every_job_once",
    "check_dead_jobs_lists_oldest_first_without_consuming",
    "check_dead_letter_keeps_body_and_death",
    "check_dead_letter_stores_the_job_it_is_given",
    "check_depth_counts_ready_delayed_and_dead",
    "check_each_job_goes_to_one_of_two_consumers",
    "check_headers_travel_with_the_job_and_its_retry",
    "check_higher_priorities_are_delivered_first_and_each_in_order",
    "check_is_ready_when_connected",
    "check_prefetch_bounds_unsettled_deliveries",
    "check_priority_survives_a_retry_and_a_replay",
    "check_publish_of_nothing_is_harmless",
    "check_publish_then_consume",
    "check_purge_dead_ids_deletes_those_and_says_how_many",
    "check_purge_dead_returns_how_many",
    "check_release_delivers_the_job_again",
    "check_replay_all_replays_every_job_and_keeps_the_rest",
    "check_replay_ids_replays_those_that_are_jobs",
    "check_replay_of_unknown_id_returns_none",
    "check_replay_resets_attempts_and_removes_the_dead_copy",
    "check_retry_comes_back_after_its_delay",
    "check_retry_without_delay_comes_back_at_once",
    "check_stop_consuming_ends_iteration_and_settling_still_works",
    "check_undecodable_body_is_dead_lettered_as_is",
    "check_unsettled_delivery_returns_when_its_broker_closes",
    "eventually",
    "expect_dead_ids",
    "expect_depth",
    "sample_death",
    "sample_job",
]

BrokerFactory = Callable[[], AbstractAsyncContextManager[Broker]]
Check = Callable[[BrokerFactory], Awaitable[None]]

DELIVERY_TIMEOUT_S = 15.0
"""How long a check waits for a delivery it expects."""
QUIET_S = 0.4
"""How long a check waits to be sure that nothing (more) is delivered."""
RETRY_DELAY_S = 1.0
"""The retry delay the retry check asks for."""
STOP_TIMEOUT_S = 10.0
"""How long the iterator may take to end after ``stop_consuming``."""

_END = object()


def sample_job(
    n: int = 0,
    *,
    attempts: int = 0,
    max_attempts: int | None = None,
    type: str = "conformance",
    priority: int = 0,
) -> Job:
    """A small job numbered ``n``, its payload with the numbers and text JSON makes hard."""
    payload = {"n": n, "text": "héllo ✓", "big": 2**70, "float": 0.1}
    return Job(
        type=type, payload=payload, attempts=attempts, max_attempts=max_attempts, priority=priority
    )


def sample_death(attempts: int = 3) -> Death:
    """A Death with every field set, to check that all of them round-trip."""
    return Death(
        reason=DeathReason.MAX_ATTEMPTS,
        error="ValueError: boom",
        traceback='Traceback (most recent call last):\n  File "h.py", line 1\nValueError: boom\n',
        attempts=attempts,
        worker_id="worker-1",
        failed_at="2024-05-06T07:08:09.123Z",
        first_failed_at="2024-05-06T07:08:00.001Z",
    )


async def eventually(
    probe: Callable[[], Awaitable[object]],
    expected: object,
    *,
    timeout_s: float = DELIVERY_TIMEOUT_S,
    what: str = "value",
) -> None:
    """Poll ``probe`` until it returns ``expected``; fail naming the last value seen."""
    deadline = time.monotonic() + timeout_s
    while (value := await probe()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} stayed {value!r}, expected {expected!r}")
        await asyncio.sleep(0.05)


async def expect_depth(broker: Broker, ready: int, delayed: int, dead: int) -> None:
    """Wait until ``depth()`` reports these counts."""
    await eventually(broker.depth, QueueDepth(ready, delayed, dead), what="depth()")


class Inbox:
    """Consumes a broker in a background task so a check can wait for deliveries with timeouts.

    ``async with Inbox(broker, prefetch) as inbox: delivery = await inbox.get()``. On exit it
    calls ``stop_consuming`` and requires the iterator to end.
    """

    def __init__(self, broker: Broker, prefetch: int = 10) -> None:
        self.broker = broker
        self.prefetch = prefetch
        self.received = 0
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Inbox:
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.broker.stop_consuming()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_TIMEOUT_S)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if kind is None:
                raise AssertionError(f"deliveries() did not end within {STOP_TIMEOUT_S} s")

    async def _pump(self) -> None:
        try:
            async for delivery in self.broker.deliveries(self.prefetch):
                self.received += 1
                self._queue.put_nowait(delivery)
        except Exception as exc:
            self._queue.put_nowait(exc)
        else:
            self._queue.put_nowait(_END)

    async def get(self, timeout_s: float = DELIVERY_TIMEOUT_S) -> Delivery:
        """The next delivery; fails if none comes within ``timeout_s`` or the iterator ends."""
        delivery = await self.poll(timeout_s)
        if delivery is None:
            raise AssertionError(f"no delivery within {timeout_s} s")
        return delivery

    async def poll(self, timeout_s: float) -> Delivery | None:
        """The next delivery, or None if none comes within ``timeout_s``."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return None
        if isinstance(item, Exception):
            raise AssertionError(f"deliveries() raised {item!r}") from item
        if not isinstance(item, Delivery):
            raise AssertionError("deliveries() ended while a delivery was expected")
        return item

    async def get_many(self, count: int, timeout_s: float = DELIVERY_TIMEOUT_S) -> list[Delivery]:
        """The next ``count`` deliveries."""
        return [await self.get(timeout_s) for _ in range(count)]

    async def expect_nothing(self, quiet_s: float = QUIET_S) -> None:
        """Fail if anything is delivered within ``quiet_s``."""
        await asyncio.sleep(quiet_s)
        if not self._queue.empty():
            raise AssertionError(f"unexpected delivery: {self._queue.get_nowait()!r}")


async def _dead_letter_jobs(broker: Broker, jobs: list[Job]) -> list[Delivery]:
    """Publish ``jobs`` and dead-letter each, in order; returns their deliveries."""
    await broker.publish(jobs)
    settled = []
    async with Inbox(broker, prefetch=1) as inbox:
        for _ in jobs:
            delivery = await inbox.get()
            await broker.dead_letter(delivery, sample_death())
            settled.append(delivery)
    return settled


def _ids(items: list[Delivery] | list[DeadJob]) -> list[str]:
    return [item.message_id for item in items]


async def expect_dead_ids(broker: Broker, ids: list[str]) -> None:
    """Wait until the dead-letter queue lists exactly these job ids, in this order."""

    async def dead_ids() -> list[str]:
        return _ids(await broker.dead_jobs())

    await eventually(dead_ids, ids, what="dead job ids")


async def check_publish_then_consume(make_broker: BrokerFactory) -> None:
    """A published job is delivered once, intact, not marked redelivered; ack empties the queue."""
    async with make_broker() as broker:
        job = sample_job()
        await broker.publish([job])
        async with Inbox(broker, prefetch=1) as inbox:
            delivery = await inbox.get()
            assert delivery.message_id == job.id
            assert Job.decode(delivery.body) == job
            assert delivery.redelivered is False
            await broker.ack(delivery)
            await inbox.expect_nothing()
        await expect_depth(broker, 0, 0, 0)


async def check_publish_of_nothing_is_harmless(make_broker: BrokerFactory) -> None:
    """Publishing an empty batch succeeds and stores nothing."""
    async with make_broker() as broker:
        await broker.publish([])
        await expect_depth(broker, 0, 0, 0)


async def check_batch_publish_delivers_every_job_once(make_broker: BrokerFactory) -> None:
    """Every job of one publish call is delivered, each exactly once."""
    async with make_broker() as broker:
        jobs = [sample_job(n) for n in range(25)]
        await broker.publish(jobs)
        async with Inbox(broker, prefetch=10) as inbox:
            for _ in jobs:
                await broker.ack(delivery := await inbox.get())
                assert Job.decode(delivery.body).payload["n"] in range(25)
            await inbox.expect_nothing()
            assert inbox.received == len(jobs)
        await expect_depth(broker, 0, 0, 0)


async def _take_and_ack(inbox: Inbox, seen: list[str], total: int) -> None:
    while len(seen) < total:
        delivery = await inbox.poll(QUIET_S)
        if delivery is None:
            continue
        seen.append(delivery.message_id)
        await inbox.broker.ack(delivery)


async def check_each_job_goes_to_one_of_two_consumers(make_broker: BrokerFactory) -> None:
    """Two brokers consuming one queue share its jobs: none is lost, none is given to both."""
    jobs = [sample_job(n) for n in range(20)]
    async with make_broker() as first, make_broker() as second:
        async with Inbox(first, prefetch=2) as one, Inbox(second, prefetch=2) as two:
            await first.publish(jobs)
            seen: list[str] = []
            async with asyncio.timeout(DELIVERY_TIMEOUT_S * 2):
                await asyncio.gather(
                    _take_and_ack(one, seen, len(jobs)), _take_and_ack(two, seen, len(jobs))
                )
            await one.expect_nothing()
            await two.expect_nothing()
        assert sorted(seen) == sorted(job.id for job in jobs)


async def check_prefetch_bounds_unsettled_deliveries(make_broker: BrokerFactory) -> None:
    """No more than ``prefetch`` unsettled deliveries; each settlement frees one slot."""
    async with make_broker() as broker:
        jobs = [sample_job(n) for n in range(6)]
        await broker.publish(jobs)
        async with Inbox(broker, prefetch=2) as inbox:
            held = await inbox.get_many(2)
            await inbox.expect_nothing()
            await broker.ack(held.pop(0))
            held.append(await inbox.get())
            await inbox.expect_nothing()
            assert inbox.received == 3
            for _ in range(len(jobs) - inbox.received):
                await broker.ack(held.pop(0))
                held.append(await inbox.get())
            assert inbox.received == len(jobs)
            for delivery in held:
                await broker.ack(delivery)
            await inbox.expect_nothing()
        assert inbox.received == len(jobs)


async def check_ack_removes_the_job(make_broker: BrokerFactory) -> None:
    """An acked job is gone for good: a new broker on the queue gets only the next job."""
    first_job, second_job = sample_job(1), sample_job(2)
    async with make_broker() as broker:
        await broker.publish([first_job])
        async with Inbox(broker, prefetch=1) as inbox:
            await broker.ack(await inbox.get())
        await broker.publish([second_job])
    async with make_broker() as broker:
        await expect_depth(broker, 1, 0, 0)
        async with Inbox(broker, prefetch=5) as inbox:
            delivery = await inbox.get()
            assert delivery.message_id == second_job.id
            await broker.ack(delivery)
            await inbox.expect_nothing()
        await expect_depth(broker, 0, 0, 0)


async def check_retry_comes_back_after_its_delay(make_broker: BrokerFactory) -> None:
    """A retry waits (delayed) for about its delay, then comes back once with the new attempts."""
    async with make_broker() as broker:
        job = sample_job(attempts=0, max_attempts=3)
        await broker.publish([job])
        async with Inbox(broker, prefetch=1) as inbox:
            delivery = await inbox.get()
            retried_at = time.monotonic()
            await broker.retry(delivery, job.next_attempt(), RETRY_DELAY_S)
            again = await inbox.get(timeout_s=RETRY_DELAY_S + DELIVERY_TIMEOUT_S)
            waited_s = time.monotonic() - retried_at
            assert waited_s >= RETRY_DELAY_S / 2, f"retry came back after {waited_s:.3f} s"
            assert again.message_id == job.id
            assert Job.decode(again.body) == job.next_attempt()
            await broker.ack(again)
            await inbox.expect_nothing()
        await expect_depth(broker, 0, 0, 0)


async def check_retry_without_delay_comes_back_at_once(make_broker: BrokerFactory) -> None:
    """A retry with no delay is delivered again promptly; the original is gone."""
    async with make_broker() as broker:
        job = sample_job(attempts=1)
        await broker.publish([job])
        async with Inbox(broker, prefetch=1) as inbox:
            await broker.retry(await inbox.get(), job.next_attempt(), 0.0)
            again = await inbox.get()
            assert Job.decode(again.body).attempts == 2
            await broker.ack(again)
            await inbox.expect_nothing()
        await expect_depth(broker, 0, 0, 0)


_TRACE_HEADERS = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "vendor=value",
}


async def check_headers_travel_with_the_job_and_its_retry(make_broker: BrokerFactory) -> None:
    """A job's headers arrive with its delivery and with the retry's; a job without headers
    arrives with none."""
    async with make_broker() as broker:
        job = dataclasses.replace(sample_job(1), headers=_TRACE_HEADERS)
        plain = sample_job(2)
        await broker.publish([job, plain])
        async with Inbox(broker, prefetch=2) as inbox:
            first = {delivery.message_id: delivery for delivery in await inbox.get_many(2)}
            assert first[job.id].headers == _TRACE_HEADERS
            assert not first[plain.id].headers
            await broker.ack(first[plain.id])
            delivered = Job.decode(first[job.id].body, first[job.id].headers)
            await broker.retry(first[job.id], delivered.next_attempt(), 0.0)
            again = await inbox.get()
            assert again.headers == _TRACE_HEADERS
            assert Job.decode(again.body).attempts == 1
            await broker.ack(again)
        await expect_depth(broker, 0, 0, 0)


async def check_dead_letter_keeps_body_and_death(make_broker: BrokerFactory) -> None:
    """A dead-lettered job keeps its exact body and every field of its Death."""
    async with make_broker() as broker:
        job = sample_job(attempts=2, max_attempts=3)
        [delivery] = await _dead_letter_jobs(broker, [job])
        expected = DeadJob(message_id=job.id, body=delivery.body, death=sample_death())
        await eventually(broker.dead_jobs, [expected], what="dead_jobs()")
        assert await broker.dead_job(job.id) == expected
        assert expected.job == job
        await expect_depth(broker, 0, 0, 1)


async def check_dead_letter_stores_the_job_it_is_given(make_broker: BrokerFactory) -> None:
    """``dead_letter(..., job=...)`` stores that job's body (its attempts all counted)."""
    async with make_broker() as broker:
        job = sample_job(attempts=2, max_attempts=3)
        await broker.publish([job])
        async with Inbox(broker, prefetch=1) as inbox:
            delivery = await inbox.get()
            await broker.dead_letter(delivery, sample_death(), job.next_attempt())
        await expect_dead_ids(broker, [job.id])
        dead = await broker.dead_job(job.id)
        assert dead is not None
        assert dead.job == job.next_attempt()


async def check_undecodable_body_is_dead_lettered_as_is(make_broker: BrokerFactory) -> None:
    """A body that is not a job dead-letters byte for byte, and replay leaves it dead."""
    async with make_broker() as broker:
        broken = sample_job(type="")  # encodes fine, but Job.decode refuses an empty type
        await broker.publish([broken])
        async with Inbox(broker, prefetch=1) as inbox:
            delivery = await inbox.get()
            try:
                Job.decode(delivery.body)
            except DecodeError as exc:
                death = Death(reason=DeathReason.UNDECODABLE, error=str(exc))
            else:
                raise AssertionError("the sample body was expected to be undecodable")
            await broker.dead_letter(delivery, death)
        await expect_dead_ids(broker, [broken.id])
        dead = await broker.dead_job(broken.id)
        assert dead == DeadJob(broken.id, delivery.body, death)
        assert dead.job is None
        try:
            await broker.replay(broken.id)
        except DecodeError:
            pass
        else:
            raise AssertionError("replay of an undecodable body did not raise DecodeError")
        assert await broker.replay_all() == 0
        assert await broker.dead_job(broken.id) == dead
        await expect_depth(broker, 0, 0, 1)


async def check_unsettled_delivery_returns_when_its_broker_closes(
    make_broker: BrokerFactory,
) -> None:
    """A delivery its consumer never settled (it went away) is delivered again, redelivered."""
    job = sample_job()
    async with make_broker() as broker:
        await broker.publish([job])
        async with Inbox(broker, prefetch=1) as inbox:
            first = await inbox.get()
            assert first.redelivered is False
    async with make_broker() as broker, Inbox(broker, prefetch=1) as inbox:
        again = await inbox.get()
        assert again.message_id == job.id
        assert again.body == first.body
        assert again.redelivered is True
        await broker.ack(again)
        await inbox.expect_nothing()


async def check_release_delivers_the_job_again(make_broker: BrokerFactory) -> None:
    """A released delivery is handed out again, intact."""
    async with make_broker() as broker:
        job = sample_job()
        await broker.publish([job])
        async with Inbox(broker, prefetch=1) as inbox:
            first = await inbox.get()
            await broker.release(first)
            again = await inbox.get()
            assert (again.message_id, again.body) == (job.id, first.body)
            await broker.ack(again)
            await inbox.expect_nothing()
        await expect_depth(broker, 0, 0, 0)


async def check_stop_consuming_ends_iteration_and_settling_still_works(
    make_broker: BrokerFactory,
) -> None:
    """After stop_consuming the iterator ends, and a delivery already yielded can be acked."""
    async with make_broker() as broker:
        job = sample_job()
        await broker.publish([job])
        deliveries = broker.deliveries(1)
        delivery = await asyncio.wait_for(anext(deliveries), DELIVERY_TIMEOUT_S)
        await broker.stop_consuming()
        rest = await asyncio.wait_for(_drain(deliveries), STOP_TIMEOUT_S)
        assert rest == [], f"deliveries after stop_consuming: {rest!r}"
        await broker.ack(delivery)
        await expect_depth(broker, 0, 0, 0)


async def _drain(deliveries: AsyncIterator[Delivery]) -> list[Delivery]:
    return [delivery async for delivery in deliveries]


async def check_depth_counts_ready_delayed_and_dead(make_broker: BrokerFactory) -> None:
    """depth() counts waiting jobs as ready, retries as delayed, dead ones as dead."""
    async with make_broker() as broker:
        await broker.publish([sample_job(n) for n in range(3)])
        await expect_depth(broker, 3, 0, 0)
        async with Inbox(broker, prefetch=1) as inbox:
            first = await inbox.get()
            await expect_depth(broker, 2, 0, 0)  # an unsettled delivery is neither
            await broker.retry(first, Job.decode(first.body).next_attempt(), 600.0)
            second = await inbox.get()
            await expect_depth(broker, 1, 1, 0)
            await broker.dead_letter(second, sample_death())
            await broker.ack(await inbox.get())
            await expect_depth(broker, 0, 1, 1)


async def check_dead_jobs_lists_oldest_first_without_consuming(make_broker: BrokerFactory) -> None:
    """dead_jobs and dead_job only look: listing twice gives the same, oldest first."""
    async with make_broker() as broker:
        jobs = [sample_job(n) for n in range(3)]
        await _dead_letter_jobs(broker, jobs)
        ids = [job.id for job in jobs]
        await expect_dead_ids(broker, ids)
        assert _ids(await broker.dead_jobs()) == ids
        assert _ids(await broker.dead_jobs(limit=2)) == ids[:2]
        middle = await broker.dead_job(ids[1])
        assert middle is not None
        assert middle.job == jobs[1]
        assert await broker.dead_job(ids[1]) == middle
        await expect_depth(broker, 0, 0, 3)


async def check_replay_resets_attempts_and_removes_the_dead_copy(
    make_broker: BrokerFactory,
) -> None:
    """replay publishes the job with attempts 0 and removes it from the dead-letter queue."""
    async with make_broker() as broker:
        job = sample_job(attempts=2, max_attempts=3)
        await _dead_letter_jobs(broker, [job])
        await expect_dead_ids(broker, [job.id])
        replayed = await broker.replay(job.id)
        assert replayed == job.fresh()
        assert await broker.dead_job(job.id) is None
        async with Inbox(broker, prefetch=1) as inbox:
            delivery = await inbox.get()
            assert Job.decode(delivery.body) == job.fresh()
            await broker.ack(delivery)
        await expect_depth(broker, 0, 0, 0)


async def check_replay_of_unknown_id_returns_none(make_broker: BrokerFactory) -> None:
    """replay and dead_job of an id that is not dead answer None and change nothing."""
    async with make_broker() as broker:
        await _dead_letter_jobs(broker, [sample_job()])
        assert await broker.replay("no-such-job") is None
        assert await broker.dead_job("no-such-job") is None
        await expect_depth(broker, 0, 0, 1)


async def check_replay_all_replays_every_job_and_keeps_the_rest(
    make_broker: BrokerFactory,
) -> None:
    """replay_all replays every dead job that decodes and leaves the undecodable ones."""
    async with make_broker() as broker:
        jobs = [sample_job(n, attempts=3) for n in range(3)]
        broken = sample_job(99, type="")
        await _dead_letter_jobs(broker, [jobs[0], broken, jobs[1], jobs[2]])
        await eventually(broker.depth, QueueDepth(0, 0, 4), what="depth()")
        assert await broker.replay_all() == 3
        assert _ids(await broker.dead_jobs()) == [broken.id]
        async with Inbox(broker, prefetch=3) as inbox:
            deliveries = await inbox.get_many(3)
            received = {d.message_id: Job.decode(d.body) for d in deliveries}
            assert received == {job.id: job.fresh() for job in jobs}
            for delivery in deliveries:
                await broker.ack(delivery)
        await expect_depth(broker, 0, 0, 1)


async def check_purge_dead_returns_how_many(make_broker: BrokerFactory) -> None:
    """purge_dead deletes every dead job and says how many."""
    async with make_broker() as broker:
        await _dead_letter_jobs(broker, [sample_job(1), sample_job(2)])
        await eventually(broker.depth, QueueDepth(0, 0, 2), what="depth()")
        assert await broker.purge_dead() == 2
        assert await broker.dead_jobs() == []
        assert await broker.purge_dead() == 0
        await expect_depth(broker, 0, 0, 0)


async def check_replay_ids_replays_those_that_are_jobs(make_broker: BrokerFactory) -> None:
    """replay_ids replays the named dead jobs (oldest first) and leaves the others, the
    undecodable named ones included."""
    async with make_broker() as broker:
        jobs = [sample_job(n, attempts=3) for n in range(4)]
        broken = sample_job(99, type="")
        await _dead_letter_jobs(broker, [jobs[0], broken, *jobs[1:]])
        await expect_depth(broker, 0, 0, 5)
        named = [jobs[2].id, broken.id, "no-such-job", jobs[0].id]
        assert await broker.replay_ids(named) == [jobs[0].fresh(), jobs[2].fresh()]
        assert _ids(await broker.dead_jobs()) == [broken.id, jobs[1].id, jobs[3].id]
        assert await broker.replay_ids([]) == []
        async with Inbox(broker, prefetch=2) as inbox:
            deliveries = await inbox.get_many(2)
            assert {d.message_id for d in deliveries} == {jobs[0].id, jobs[2].id}
            for delivery in deliveries:
                await broker.ack(delivery)
        await expect_depth(broker, 0, 0, 3)


async def check_purge_dead_ids_deletes_those_and_says_how_many(make_broker: BrokerFactory) -> None:
    """purge_dead_ids deletes the named dead jobs, undecodable ones too, and no other."""
    async with make_broker() as broker:
        jobs = [sample_job(n) for n in range(3)]
        broken = sample_job(99, type="")
        await _dead_letter_jobs(broker, [*jobs, broken])
        await expect_depth(broker, 0, 0, 4)
        assert await broker.purge_dead_ids([jobs[0].id, broken.id, "no-such-job"]) == 2
        assert _ids(await broker.dead_jobs()) == [jobs[1].id, jobs[2].id]
        assert await broker.purge_dead_ids([jobs[0].id]) == 0
        assert await broker.purge_dead_ids([]) == 0
        await expect_depth(broker, 0, 0, 2)


async def check_is_ready_when_connected(make_broker: BrokerFactory) -> None:
    """A connected broker is ready to accept a publish."""
    async with make_broker() as broker:
        assert await broker.is_ready() is True


ALL_CHECKS: tuple[Check, ...] = (
    check_publish_then_consume,
    check_publish_of_nothing_is_harmless,
    check_batch_publish_delivers_every_job_once,
    check_each_job_goes_to_one_of_two_consumers,
    check_prefetch_bounds_unsettled_deliveries,
    check_ack_removes_the_job,
    check_retry_comes_back_after_its_delay,
    check_retry_without_delay_comes_back_at_once,
    check_headers_travel_with_the_job_and_its_retry,
    check_dead_letter_keeps_body_and_death,
    check_dead_letter_stores_the_job_it_is_given,
    check_undecodable_body_is_dead_lettered_as_is,
    check_unsettled_delivery_returns_when_its_broker_closes,
    check_release_delivers_the_job_again,
    check_stop_consuming_ends_iteration_and_settling_still_works,
    check_depth_counts_ready_delayed_and_dead,
    check_dead_jobs_lists_oldest_first_without_consuming,
    check_replay_resets_attempts_and_removes_the_dead_copy,
    check_replay_of_unknown_id_returns_none,
    check_replay_all_replays_every_job_and_keeps_the_rest,
    check_purge_dead_returns_how_many,
    check_replay_ids_replays_those_that_are_jobs,
    check_purge_dead_ids_deletes_those_and_says_how_many,
    check_is_ready_when_connected,
)
"""Every check, in a sensible order for a test run."""

CHECK_IDS: tuple[str, ...] = tuple(check.__name__.removeprefix("check_") for check in ALL_CHECKS)
"""Test ids for ``pytest.mark.parametrize(..., ids=CHECK_IDS)``."""


async def _take_in_turn(inbox: Inbox, count: int) -> list[Job]:
    """``count`` deliveries, each acked before the next is taken (prefetch 1: no reordering)."""
    taken: list[Job] = []
    for _ in range(count):
        delivery = await inbox.get()
        taken.append(Job.decode(delivery.body))
        await inbox.broker.ack(delivery)
    return taken


async def check_higher_priorities_are_delivered_first_and_each_in_order(
    make_broker: BrokerFactory,
) -> None:
    """Of jobs waiting together, a higher priority is delivered first, and jobs of one
    priority in the order they were published."""
    priorities = [0, 5, 9, 5, 0, 9, 1, 0]
    jobs = [sample_job(n, priority=p) for n, p in enumerate(priorities)]
    async with make_broker() as broker:
        await broker.publish(jobs)
        await expect_depth(broker, len(jobs), 0, 0)
        async with Inbox(broker, prefetch=1) as inbox:
            taken = await _take_in_turn(inbox, len(jobs))
            await inbox.expect_nothing()
    expected = sorted(jobs, key=lambda job: -job.priority)  # stable: FIFO within a priority
    assert [job.id for job in taken] == [job.id for job in expected]
    assert [job.priority for job in taken] == [9, 9, 5, 5, 1, 0, 0, 0]


async def check_priority_survives_a_retry_and_a_replay(make_broker: BrokerFactory) -> None:
    """A retried job keeps its priority, and so goes ahead of lower ones that waited longer;
    a job replayed from the dead-letter queue keeps it too."""
    low, high = sample_job(0, priority=0), sample_job(1, priority=7)
    async with make_broker() as broker:
        await broker.publish([high, low])
        async with Inbox(broker, prefetch=1) as inbox:
            first = await inbox.get()
            assert first.message_id == high.id
            await broker.retry(first, Job.decode(first.body).next_attempt(), 0.0)
            again = await inbox.get()
            assert again.message_id == high.id
            assert Job.decode(again.body).priority == 7
            await broker.dead_letter(again, sample_death())
            waited = await inbox.get()
            assert waited.message_id == low.id
            await broker.ack(waited)
            replayed = await broker.replay(high.id)
            assert replayed is not None
            assert replayed.priority == 7
            back = await inbox.get()
            assert (back.message_id, Job.decode(back.body).priority) == (high.id, 7)
            await broker.ack(back)
            await inbox.expect_nothing()


PRIORITY_CHECKS: tuple[Check, ...] = (
    check_higher_priorities_are_delivered_first_and_each_in_order,
    check_priority_survives_a_retry_and_a_replay,
)
"""The checks of priority order: every backend on a queue with priorities (on RabbitMQ, one
declared with ``x-max-priority``); a queue without them need not pass these."""

PRIORITY_CHECK_IDS: tuple[str, ...] = tuple(
    check.__name__.removeprefix("check_") for check in PRIORITY_CHECKS
)
"""Test ids for ``pytest.mark.parametrize(..., ids=PRIORITY_CHECK_IDS)``."""
