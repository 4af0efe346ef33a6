"""Jobs finished, told to every API replica of one Redis registry, so a long-poll answers at once.

Every replica consumes the workers' status events from the one ``{queue}.events`` queue, so a
job's final events are applied by whichever replica RabbitMQ gave them to. A request waiting on
another replica (``GET /jobs/{id}?wait=``) is woken only by its own replica's consumer, and would
otherwise see the job finished at its next look at the store (``STORE_POLL_S``, a second).

So each replica publishes the ids of the jobs whose final events (succeeded, dead, cancelled) it
applied on the channel ``<prefix>finished`` (the registry's Redis and key prefix), and wakes the
waiters of the ids the other replicas publish. Publishing never holds up the consumer: ids
gather while one message is on its way and go in the next. Pub/sub delivers at most once: a
notice lost while Redis is down only leaves that waiter to its next look at the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from types import TracebackType

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from jobqueue.api.replica_feed import ReplicaFeed, shares_redis
from jobqueue.api.tracking import JobWatch
from jobqueue.registry.redis import DEFAULT_KEY_PREFIX, redis_client
from jobqueue.store import JobEvent
from jobqueue.store.events import EventKind

__all__ = ["RedisFinishedFeed", "finished_feed"]

FINAL_KINDS = frozenset({EventKind.SUCCEEDED, EventKind.DEAD, EventKind.CANCELLED})
MAX_CONNECTIONS = 4  # one listens; publishing takes another
LISTEN_TIMEOUT_S = 1.0
RETRY_S = 1.0
STORE = "long-polls there look at the store"
RECOVERED = "finished jobs are told to the other API replicas again"


class RedisFinishedFeed(ReplicaFeed):
    """Publishes the jobs this replica saw finish, and wakes ``watch`` for the others'.

    Use it as an async context manager (``async with feed:``): listening runs inside it.
    """

    task_name = "jobqueue-finished-feed"

    def __init__(
        self,
        client: aioredis.Redis,
        watch: JobWatch,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        url: str = "redis://",
    ) -> None:
        super().__init__(client, url)
        self._watch = watch
        self._channel = f"{key_prefix}finished"
        self._origin = secrets.token_hex(8)
        self._pending: set[str] = set()
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str, watch: JobWatch) -> RedisFinishedFeed:
        """A feed in the Redis of the registry ``url`` names, under its key prefix."""
        client, url, key_prefix = redis_client(url, DEFAULT_KEY_PREFIX, MAX_CONNECTIONS)
        return cls(client, watch, key_prefix, url)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        await super().__aexit__(exc_type, exc, traceback)

    def applied(self, events: Sequence[JobEvent]) -> None:
        """The store has these events (the events consumer's hook): publish the jobs they
        finish, soon, without waiting."""
        finished = {event.job_id for event in events if event.kind in FINAL_KINDS}
        if not finished:
            return
        self._pending |= finished
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="jobqueue-finished-publish")

    async def _send(self) -> None:
        while self._pending:
            job_ids, self._pending = sorted(self._pending), set()
            message = orjson.dumps({"origin": self._origin, "jobs": job_ids})
            try:
                await self._redis.publish(self._channel, message)
            except RedisError as exc:
                self._trouble(f"cannot tell the other API replicas of finished jobs; {STORE}", exc)
            else:
                self._recovered(RECOVERED)

    async def _loop(self) -> None:
        """Listen to the channel, waking the waiters of the jobs others saw finish."""
        while not self._stopping:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._recovered(RECOVERED)
                    while not self._stopping:
                        message = await pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                        if message is not None:
                            self._wake(message.get("data"))
            except RedisError as exc:
                self._trouble(f"cannot hear of jobs the other replicas saw finish; {STORE}", exc)
                await asyncio.sleep(RETRY_S)

    def _wake(self, data: object) -> None:
        try:
            notice = orjson.loads(data) if isinstance(data, str | bytes) else None
        except orjson.JSONDecodeError:
            return
        if not isinstance(notice, dict) or notice.get("origin") == self._origin:
            return
        jobs = notice.get("jobs")
        if isinstance(jobs, list):
            self._watch.changed(job_id for job_id in jobs if isinstance(job_id, str))


def finished_feed(registry_url: str, watch: JobWatch) -> RedisFinishedFeed | None:
    """The feed beside a Redis registry; None for a registry in the API's memory (one replica)."""
    if shares_redis(registry_url):
        return RedisFinishedFeed.from_url(registry_url, watch)
    return None
