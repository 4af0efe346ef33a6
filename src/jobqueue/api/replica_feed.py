"""The base of what the API replicas of one Redis registry tell each other: a Redis client and
one loop that runs while the feed is entered, its trouble logged once per outage."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from jobqueue.background import in_background
from jobqueue.brokers import redact_text, redact_url

log = logging.getLogger("jobqueue.api")

REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def shares_redis(registry_url: str) -> bool:
    """Whether ``registry_url`` names a Redis registry, the one several replicas can share."""
    scheme = registry_url.split("://", 1)[0].lower() if "://" in registry_url else ""
    return scheme in REDIS_SCHEMES


class ReplicaFeed:
    """Use it as an async context manager (``async with feed:``): :meth:`_loop` runs inside.

    redis-py may swallow a cancellation that lands during a blocking read and read again, so a
    loop also checks :attr:`_stopping`, set before it is cancelled, after each read.
    """

    task_name = "jobqueue-replica-feed"

    def __init__(self, client: aioredis.Redis, url: str) -> None:
        self._redis = client
        self._full_url = url
        self._url = redact_url(url)
        self._stopping = False
        self._failing = False  # only the transitions are logged
        self._running = contextlib.AsyncExitStack()

    def _loop(self) -> Coroutine[Any, Any, None]:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self._running.enter_async_context(in_background(self._loop(), self.task_name))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping = True
        await self._running.aclose()
        await self._redis.aclose()

    def _describe(self, exc: RedisError) -> str:
        """The error with the Redis URL it came from, passwords hidden."""
        return f"{self._url}: {redact_text(str(exc), self._full_url)}"

    def _trouble(self, what: str, exc: RedisError) -> None:
        """Log ``what`` went wrong, at the first failure of an outage only."""
        if not self._failing:
            log.warning("%s (%s)", what, self._describe(exc))
        self._failing = True

    def _recovered(self, what: str) -> None:
        """Log ``what`` works again, once, when an outage ends."""
        if self._failing:
            log.info("%s", what)
        self._failing = False
