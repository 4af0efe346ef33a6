"""The cancel feed on the real Redis: each replica's cancellations land in every other's log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from jobqueue.api.cancel_feed import RedisCancelFeed, cancel_feed
from jobqueue.api.cancels import CancelLog
from jobqueue.api.tracking import JobWatch
from tests.control.polling import eventually
from tests.registry.conftest import redis_prefix
from tests.services import REDIS_URL, free_port

__all__ = ["redis_prefix"]  # the per-test key prefix, its keys deleted after

pytestmark = pytest.mark.redis

Feed = Callable[[CancelLog], contextlib.AbstractAsyncContextManager[RedisCancelFeed]]


@pytest.fixture
def feed(redis_prefix: str) -> Feed:
    """A running feed over a log, on the test's key prefix."""

    @contextlib.asynccontextmanager
    async def start(cancel_log: CancelLog) -> AsyncIterator[RedisCancelFeed]:
        url = REDIS_URL + ("&" if "?" in REDIS_URL else "?") + f"key_prefix={redis_prefix}"
        async with RedisCancelFeed.from_url(url, cancel_log) as running:
            yield running

    return start


def _ids(cancel_log: CancelLog) -> list[str]:
    return cancel_log.since("")[0]


async def test_a_cancellation_announced_by_one_replica_is_in_the_others_log(feed: Feed) -> None:
    first, second = CancelLog(), CancelLog()
    async with feed(first) as first_feed, feed(second):
        first.add("job-1")
        await first_feed.announce(["job-1", "job-2"])

        async def arrived() -> bool:
            return _ids(second) == ["job-1", "job-2"]

        await eventually(arrived, 5.0, "the announced ids in the other log")
    assert _ids(first) == ["job-1"]  # its own announcements are not added again


async def test_a_cancellation_from_another_replica_wakes_the_requests_waiting_here(
    redis_prefix: str,
) -> None:
    url = REDIS_URL + ("&" if "?" in REDIS_URL else "?") + f"key_prefix={redis_prefix}"
    watch = JobWatch()
    async with (
        RedisCancelFeed.from_url(url, CancelLog()) as first,
        RedisCancelFeed.from_url(url, CancelLog(), watch),
    ):
        with watch.watching("job-1") as woken:
            await first.announce(["job-1"])
            async with asyncio.timeout(5.0):
                await woken.wait()


async def test_a_replica_that_starts_later_reads_back_the_cancellations_of_the_window(
    feed: Feed,
) -> None:
    first = CancelLog()
    async with feed(first) as first_feed:
        await first_feed.announce(["job-1"])
        late = CancelLog()
        async with feed(late):

            async def read_back() -> bool:
                return _ids(late) == ["job-1"]

            await eventually(read_back, 5.0, "the earlier cancellation read back")


async def test_entries_older_than_the_window_are_not_read_back(feed: Feed) -> None:
    first = CancelLog(window_s=0.2)
    async with feed(first) as first_feed:
        await first_feed.announce(["old"])
        await asyncio.sleep(0.3)  # "old" leaves the window
        await first_feed.announce(["new"])
        late = CancelLog(window_s=0.2)
        async with feed(late):

            async def only_new() -> bool:
                return _ids(late) == ["new"]

            await eventually(only_new, 5.0, "only the entry within the window")


async def test_announcing_while_redis_is_down_logs_and_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancel_log = CancelLog()
    url = f"redis://127.0.0.1:{free_port()}/0"
    async with RedisCancelFeed.from_url(url, cancel_log) as down:
        await down.announce(["job-1"])
    assert "cannot tell the other API replicas of 1 cancellation(s)" in caplog.text


def test_only_a_redis_registry_gets_a_feed() -> None:
    assert cancel_feed("", CancelLog()) is None
    assert cancel_feed("memory://", CancelLog()) is None
    assert isinstance(cancel_feed("redis://127.0.0.1:6379/0", CancelLog()), RedisCancelFeed)
