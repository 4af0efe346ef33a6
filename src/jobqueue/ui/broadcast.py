"""The shared broadcaster: each page kind's snapshot computed once per interval, only while
somebody listens, and only the sections that changed sent to every listener of that page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from jobqueue import codec

logger = logging.getLogger("jobqueue.ui")

TopicKey = tuple[str, tuple[tuple[str, str], ...]]
"""A page kind and its query (sorted): listeners of the same key share one snapshot."""
Compute = Callable[[TopicKey], Awaitable[dict[str, Any]]]
INTERVAL_S = 2.0
SLOW_FACTOR = 4.0
QUEUE_DEPTH = 8
"""Messages a listener may fall behind by before it is sent the whole snapshot afresh."""
END = b""
"""Put in a listener's queue when the broadcaster closes: its stream ends."""


def event(sections: dict[str, bytes]) -> bytes:
    """One SSE message carrying ``sections`` (each already JSON)."""
    fields = b",".join(codec.dumps(name) + b":" + body for name, body in sections.items())
    return b"event: change\ndata: {" + fields + b"}\n\n"


def next_wait(interval_s: float, took_s: float) -> float:
    """How long to wait before the next snapshot: the interval, or longer after one that was
    slow to read (a deep dead-letter queue browsed on RabbitMQ), so that reading one topic
    never takes more than a fifth of the time."""
    return max(interval_s, SLOW_FACTOR * took_s)


class Topic:
    """One page kind's listeners, its latest snapshot (each section as JSON), and the task that
    refreshes it."""

    def __init__(self, key: TopicKey, compute: Compute, interval_s: float) -> None:
        self.key = key
        self.compute = compute
        self.interval_s = interval_s
        self.listeners: set[asyncio.Queue[bytes]] = set()
        self.sections: dict[str, bytes] = {}
        self.task: asyncio.Task[None] | None = None

    def join(self) -> asyncio.Queue[bytes]:
        """A new listener's queue, holding the whole snapshot when there is one already."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_DEPTH)
        if self.sections:
            queue.put_nowait(event(self.sections))
        self.listeners.add(queue)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._refresh(), name=f"ui-topic-{self.key[0]}")
        return queue

    def leave(self, queue: asyncio.Queue[bytes]) -> None:
        """Forget a listener; the last one to leave stops the refreshing."""
        self.listeners.discard(queue)
        if not self.listeners and self.task is not None:
            self.task.cancel()
            self.task = None
            self.sections = {}

    async def _refresh(self) -> None:
        while self.listeners:
            started = time.monotonic()
            try:
                fresh = await self.compute(self.key)
            except Exception as exc:  # a snapshot that fails is told, and tried again
                logger.warning("dashboard snapshot %s failed: %s", self.key[0], exc)
                fresh = {"error": {"status": 500, "body": {"error": {"message": str(exc)}}}}
            self._publish({name: codec.dumps(value) for name, value in fresh.items()})
            await asyncio.sleep(next_wait(self.interval_s, time.monotonic() - started))

    def _publish(self, fresh: dict[str, bytes]) -> None:
        changed = {name: body for name, body in fresh.items() if self.sections.get(name) != body}
        self.sections = fresh
        if not changed:
            return
        message = event(changed)
        for queue in self.listeners:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a slow reader: start it again from the whole snapshot
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(event(fresh))


class Broadcaster:
    """The topics of every open page, created on a first listener and dropped with the last."""

    def __init__(self, compute: Compute, interval_s: float = INTERVAL_S) -> None:
        self.compute = compute
        self.interval_s = interval_s
        self.topics: dict[TopicKey, Topic] = {}
        self.closed = False

    def close(self) -> None:
        """End every stream (the server is stopping: an open stream would hold its graceful
        stop to the deadline); streams opened afterwards end at once."""
        self.closed = True
        for topic in self.topics.values():
            for queue in topic.listeners:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(END)

    @contextlib.asynccontextmanager
    async def listen(self, key: TopicKey) -> AsyncIterator[asyncio.Queue[bytes]]:
        """A queue of the SSE messages for ``key``, for as long as the block runs."""
        if self.closed:
            ended: asyncio.Queue[bytes] = asyncio.Queue(1)
            ended.put_nowait(END)
            yield ended
            return
        topic = self.topics.get(key)
        if topic is None:
            topic = self.topics[key] = Topic(key, self.compute, self.interval_s)
        queue = topic.join()
        try:
            yield queue
        finally:
            topic.leave(queue)
            if not topic.listeners:
                self.topics.pop(key, None)

    @property
    def listeners(self) -> int:
        """How many streams are open."""
        return sum(len(topic.listeners) for topic in self.topics.values())
