"""Cancellations shared by the API replicas of one Redis registry: a stream each adds to and reads.

A job cancelled through one replica must reach the workers that heartbeat to another within a
heartbeat: a queued job is skipped only by a worker told of it before it is delivered, and a
running job's handler is told to stop at the worker's next heartbeat. Each replica's
:class:`~jobqueue.api.cancels.CancelLog` is what its heartbeat replies read, so the feed fills
every log with every replica's cancellations:

- ``announce`` appends the ids to the stream ``<prefix>cancels`` (the registry's Redis and key
  prefix), each entry naming the log it came from; the stream keeps about the log's
  ``max_ids`` newest entries and expires when no cancellation came for the log's window.
- every replica follows the stream (``XREAD BLOCK``) and adds the entries of the other replicas
  to its own log, dated by the entry's id (its time in milliseconds), so an entry read late is
  forgotten when it would have been, and wakes the requests waiting for those jobs. A replica
  that starts reads the entries of the window back.

Redis down: announcing logs it and returns (the store has the cancellation, and a running
job's worker is told through the store's refresh, ``jobqueue.api.cancels.StoreCancels``);
following retries every second from where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from jobqueue.api.cancels import CancelLog
from jobqueue.api.replica_feed import ReplicaFeed, shares_redis
from jobqueue.api.tracking import JobWatch
from jobqueue.registry.redis import DEFAULT_KEY_PREFIX, redis_client

__all__ = ["RedisCancelFeed", "cancel_feed"]

log = logging.getLogger("jobqueue.api")

MAX_CONNECTIONS = 4  # one blocks in XREAD; announcements take the others
BLOCK_MS = 500
READ_COUNT = 1000
RETRY_S = 1.0

_Replies = list[tuple[str, list[tuple[str, dict[str, str]]]]] | None


class RedisCancelFeed(ReplicaFeed):
    """Announces this replica's cancellations and adds the other replicas' to ``cancel_log``.

    Use it as an async context manager (``async with feed:``): following runs inside it.
    """

    task_name = "jobqueue-cancel-feed"

    def __init__(
        self,
        client: aioredis.Redis,
        cancel_log: CancelLog,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        url: str = "redis://",
        watch: JobWatch | None = None,
    ) -> None:
        super().__init__(client, url)
        self._log = cancel_log
        self._watch = watch
        self._key = f"{key_prefix}cancels"
        self._window_ms = max(1, math.ceil(cancel_log.window_s * 1000))

    @classmethod
    def from_url(
        cls, url: str, cancel_log: CancelLog, watch: JobWatch | None = None
    ) -> RedisCancelFeed:
        """A feed in the Redis of the registry ``url`` names, under its key prefix; the
        requests waiting in ``watch`` for a job another replica cancelled are woken."""
        client, url, key_prefix = redis_client(url, DEFAULT_KEY_PREFIX, MAX_CONNECTIONS)
        return cls(client, cancel_log, key_prefix, url, watch)

    async def announce(self, job_ids: Sequence[str]) -> None:
        """Tell the other replicas that these jobs were cancelled (one round trip); never
        raises."""
        if not job_ids:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for job_id in job_ids:
                    pipe.xadd(
                        self._key,
                        {"origin": self._log.origin, "job": job_id},
                        maxlen=self._log.max_ids,
                        approximate=True,
                    )
                pipe.pexpire(self._key, self._window_ms)
                await pipe.execute()
        except RedisError as exc:
            log.warning(
                "cannot tell the other API replicas of %d cancellation(s): %s",
                *(len(job_ids), self._describe(exc)),
            )

    async def _loop(self) -> None:
        """Follow the stream from the window's start, adding the other replicas' entries."""
        after: str | None = None
        while not self._stopping:
            try:
                after = after or await self._window_start()
                after = await self._read(after)
            except RedisError as exc:
                self._trouble("cannot follow the other API replicas' cancellations; retrying", exc)
                await asyncio.sleep(RETRY_S)
                continue
            self._recovered("following the other API replicas' cancellations again")

    async def _window_start(self) -> str:
        """The stream id of the oldest entry still within the log's window, by Redis's clock."""
        seconds, micros = await self._redis.time()
        now_ms = seconds * 1000 + micros // 1000
        return f"{max(0, now_ms - self._window_ms)}-0"

    async def _read(self, after: str) -> str:
        """Add the entries after ``after`` (waiting up to ``BLOCK_MS`` for one); the last id."""
        read = self._redis.xread({self._key: after}, count=READ_COUNT, block=BLOCK_MS)
        replies = cast(_Replies, await read)  # RESP2 and decoded: [[key, [(id, fields)]]]
        now_s, added = time.time(), []
        for _, entries in replies or ():
            for entry_id, fields in entries:
                after = entry_id
                job_id = fields.get("job")
                if job_id and fields.get("origin") != self._log.origin:
                    self._log.add(job_id, age_s=max(0.0, now_s - _entry_time_s(entry_id)))
                    added.append(job_id)
        if self._watch is not None:
            self._watch.changed(added)
        return after


def _entry_time_s(entry_id: str) -> float:
    return int(entry_id.partition("-")[0]) / 1000


def cancel_feed(
    registry_url: str, cancel_log: CancelLog, watch: JobWatch | None = None
) -> RedisCancelFeed | None:
    """The feed beside a Redis registry; None for a registry in the API's memory (one replica)."""
    if shares_redis(registry_url):
        return RedisCancelFeed.from_url(registry_url, cancel_log, watch)
    return None
