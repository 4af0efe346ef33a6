"""The finished-jobs feed on the real Redis: one replica applies a job's end, another's waiters
wake."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from jobqueue.api.finished_feed import RedisFinishedFeed, finished_feed
from jobqueue.api.tracking import JobWatch
from jobqueue.store import JobEvent
from jobqueue.store.events import EventKind
from tests.control.polling import eventually
from tests.registry.conftest import redis_prefix
from tests.services import REDIS_URL

__all__ = ["redis_prefix"]  # the per-test key prefix

pytestmark = pytest.mark.redis

Feed = Callable[[JobWatch], contextlib.AbstractAsyncContextManager[RedisFinishedFeed]]
WAIT_S = 5.0


@pytest.fixture
def feed(redis_prefix: str) -> Feed:
    """A listening feed over a watch, on the test's key prefix."""

    listening = 0

    @contextlib.asynccontextmanager
    async def start(watch: JobWatch) -> AsyncIterator[RedisFinishedFeed]:
        nonlocal listening
        url = REDIS_URL + ("&" if "?" in REDIS_URL else "?") + f"key_prefix={redis_prefix}"
        async with RedisFinishedFeed.from_url(url, watch) as running:
            listening += 1
            await _subscribers(f"{redis_prefix}finished", listening)  # pub/sub keeps nothing
            yield running

    return start


async def _subscribers(channel: str, count: int) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:

        async def subscribed() -> bool:
            return dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0) >= count

        await eventually(subscribed, WAIT_S, f"{count} subscriber(s)")
    finally:
        await client.aclose()


def _event(job_id: str, kind: EventKind) -> JobEvent:
    return JobEvent(uuid.uuid4().hex, job_id, kind, 0, datetime.now(UTC), "nap", "w1")


async def test_a_job_finished_on_one_replica_wakes_its_waiters_on_another(feed: Feed) -> None:
    applying, waiting = JobWatch(), JobWatch()
    async with feed(applying) as first, feed(waiting):
        with waiting.watching("job-1") as woken, waiting.watching("job-2") as not_woken:
            first.applied([_event("job-2", EventKind.RUNNING)])  # not an end: not told
            first.applied([_event("job-1", EventKind.SUCCEEDED)])
            async with asyncio.timeout(WAIT_S):
                await woken.wait()
            assert not not_woken.is_set()


@pytest.mark.parametrize("kind", [EventKind.DEAD, EventKind.CANCELLED])
async def test_every_final_state_is_told(feed: Feed, kind: EventKind) -> None:
    waiting = JobWatch()
    async with feed(JobWatch()) as first, feed(waiting):
        with waiting.watching("job-1") as woken:
            first.applied([_event("job-1", kind)])
            async with asyncio.timeout(WAIT_S):
                await woken.wait()


async def test_a_replica_is_not_woken_by_its_own_notices(feed: Feed) -> None:
    own, other = JobWatch(), JobWatch()
    async with feed(own) as first, feed(other):
        with own.watching("job-1") as own_waiter, other.watching("job-1") as other_waiter:
            first.applied([_event("job-1", EventKind.SUCCEEDED)])
            async with asyncio.timeout(WAIT_S):
                await other_waiter.wait()  # delivered by now to every subscriber
            await asyncio.sleep(0.05)
            assert not own_waiter.is_set()  # its consumer wakes its own waiters directly


def test_only_a_redis_registry_gets_a_feed() -> None:
    assert finished_feed("", JobWatch()) is None
    assert isinstance(finished_feed("redis://127.0.0.1:6379/0", JobWatch()), RedisFinishedFeed)
