"""The dead-letter queue: Death as message headers, and browsing without losing a message."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pika.spec

from jobqueue.brokers import DeadJob, Death
from jobqueue.brokers.amqp.connection import Channel
from jobqueue.brokers.amqp.publisher import Outgoing
from jobqueue.brokers.amqp.topology import Names, job_properties, message_count
from jobqueue.errors import DecodeError
from jobqueue.job import Job, iso_utc

REASON = "x-jobqueue-reason"
ERROR = "x-jobqueue-error"
TRACEBACK = "x-jobqueue-traceback"
ATTEMPTS = "x-jobqueue-attempts"
WORKER_ID = "x-jobqueue-worker-id"
FAILED_AT = "x-jobqueue-failed-at"
FIRST_FAILED_AT = "x-jobqueue-first-failed-at"
# A header must fit in one AMQP frame (128 KiB by default): long texts are cut.
TEXT_MAX_CHARS = 4096
REPLAY_BATCH = 100

Send = Callable[[Sequence[Outgoing]], Awaitable[None]]
OpenChannel = Callable[[], Awaitable[Channel]]


def death_headers(death: Death) -> dict[str, Any]:
    """The headers a dead copy carries; None fields are left out."""
    headers: dict[str, Any] = {
        REASON: death.reason,
        ATTEMPTS: death.attempts,
        FAILED_AT: death.failed_at,
    }
    optional = {
        ERROR: _clip_head(death.error),
        TRACEBACK: _clip_tail(death.traceback),
        WORKER_ID: death.worker_id,
        FIRST_FAILED_AT: death.first_failed_at,
    }
    headers.update({name: value for name, value in optional.items() if value is not None})
    return headers


def death_from_headers(headers: dict[str, Any] | None, body: bytes) -> Death:
    """Read a Death back: ours from x-jobqueue-* headers, RabbitMQ's own from ``x-death``."""
    headers = headers or {}
    if REASON in headers:
        attempts = headers.get(ATTEMPTS)
        return Death(
            reason=_text(headers[REASON]) or "unknown",
            error=_text(headers.get(ERROR)),
            traceback=_text(headers.get(TRACEBACK)),
            attempts=attempts if isinstance(attempts, int) else attempts_in(body),
            worker_id=_text(headers.get(WORKER_ID)),
            failed_at=_text(headers.get(FAILED_AT)) or "",
            first_failed_at=_text(headers.get(FIRST_FAILED_AT)),
        )
    return _rabbitmq_death(headers.get("x-death"), body)


def _rabbitmq_death(x_death: Any, body: bytes) -> Death:
    """A message RabbitMQ dead-lettered itself (a nack or reject, an expiry, a length limit)."""
    entry = x_death[0] if isinstance(x_death, list) and x_death else {}
    entry = entry if isinstance(entry, dict) else {}
    reason = _text(entry.get("reason")) or "unknown"
    queue = _text(entry.get("queue")) or "?"
    died_at = entry.get("time")
    return Death(
        reason=reason,
        error=f"dead-lettered by RabbitMQ ({reason}) from queue {queue!r}",
        attempts=attempts_in(body),
        failed_at=_iso(died_at) if isinstance(died_at, datetime) else "",
    )


def message_id_of(props: Any, body: bytes) -> str:
    """The message id, or the job id inside the body when a publisher set none."""
    if props.message_id:
        return str(props.message_id)
    try:
        return Job.decode(body).id
    except DecodeError:
        return ""


class DeadMessage(NamedTuple):
    """A dead message taken (unacked) from the dead-letter queue."""

    delivery_tag: int
    dead_job: DeadJob


class Browser:
    """Takes dead messages with basic.get on a channel of its own, then puts them back in order.

    Nothing is auto-acked: a message stays the broker's until :meth:`remove`, and
    :meth:`put_back` returns all the others with one multiple nack, which RabbitMQ requeues
    at their old positions. Closing the channel (or losing it) would requeue them too.
    """

    def __init__(self, channel: Channel, queue: str) -> None:
        self._channel = channel
        self._queue = queue
        self._last_tag = 0
        self._getting: Any = None
        channel.raw.add_callback(self._on_empty, [pika.spec.Basic.GetEmpty], one_shot=False)

    async def take(self) -> DeadMessage | None:
        """The next dead message, or None when none is left."""
        fut = self._getting = self._channel.future()
        self._channel.raw.basic_get(
            self._queue, callback=lambda _ch, method, props, body: _set(fut, (method, props, body))
        )
        got = await self._channel.wait(fut)
        if got is None:
            return None
        method, props, body = got
        self._last_tag = method.delivery_tag
        death = death_from_headers(props.headers, body)
        return DeadMessage(method.delivery_tag, DeadJob(message_id_of(props, body), body, death))

    def remove(self, delivery_tag: int) -> None:
        """Ack one dead message: it is gone for good."""
        self._channel.raw.basic_ack(delivery_tag)

    async def put_back(self) -> None:
        """Requeue every message taken and not removed, then close the channel."""
        if self._last_tag and self._channel.is_open:
            self._channel.raw.basic_nack(self._last_tag, multiple=True, requeue=True)
        await self._channel.close()

    def _on_empty(self, _frame: Any) -> None:
        _set(self._getting, None)


class DeadLetters:
    """List, show, replay and purge the dead-letter queue."""

    def __init__(
        self, names: Names, open_channel: OpenChannel, send: Send, *, max_priority: int = 0
    ) -> None:
        self._names = names
        self._max_priority = max_priority  # the jobs queue's: replays keep their priority
        self._open_channel = open_channel
        self._send = send
        # A browse holds dead messages unacked, out of sight of any other basic.get: two at
        # once would each see part of the queue. One at a time, then (within this process).
        self._browsing = asyncio.Lock()

    async def oldest(self, limit: int) -> list[DeadJob]:
        """The oldest ``limit`` dead jobs, left in place."""
        found: list[DeadJob] = []
        async with self._browse() as browser:
            while len(found) < limit and (message := await browser.take()) is not None:
                found.append(message.dead_job)
        return found

    async def find(self, message_id: str) -> DeadJob | None:
        """One dead job by message id, left in place."""
        async with self._browse() as browser:
            while (message := await browser.take()) is not None:
                if message.dead_job.message_id == message_id:
                    return message.dead_job
        return None

    async def replay(self, message_id: str) -> Job | None:
        """Publish the dead job afresh (confirmed), then remove its dead copy."""
        async with self._browse() as browser:
            while (message := await browser.take()) is not None:
                if message.dead_job.message_id == message_id:
                    job = Job.decode(message.dead_job.body).fresh()
                    await self._send([self._fresh_copy(job)])
                    browser.remove(message.delivery_tag)
                    return job
        return None

    async def replay_all(self) -> int:
        """Replay every dead job that decodes; the others stay. Returns how many were replayed."""
        # Only what is dead now: a replayed job that dies again at once is not chased.
        total = await self._dead_count()
        replayed = 0
        async with self._browse() as browser:
            async for batch in self._batches(browser, total):
                replayed += len(await self._replay_batch(browser, batch))
        return replayed

    async def replay_ids(self, message_ids: Collection[str]) -> list[Job]:
        """Replay the oldest dead copy of each id that is a job, in one browse that ends once
        every id was seen (or the queue as it was at the start was read)."""
        wanted = set(message_ids)
        replayed: list[Job] = []
        async with self._browse() as browser:
            async for batch in self._batches(browser, await self._dead_count()):
                chosen = []
                for message in batch:
                    if message.dead_job.message_id in wanted:
                        wanted.discard(message.dead_job.message_id)
                        chosen.append(message)
                replayed += await self._replay_batch(browser, chosen)
                if not wanted:
                    break
        return replayed

    async def purge_ids(self, message_ids: Collection[str]) -> int:
        """Delete every dead copy of the ids, in one browse of the queue as it was."""
        wanted = set(message_ids)
        purged = 0
        async with self._browse() as browser:
            async for batch in self._batches(browser, await self._dead_count()):
                for message in batch:
                    if message.dead_job.message_id in wanted:
                        browser.remove(message.delivery_tag)
                        purged += 1
        return purged

    async def _dead_count(self) -> int:
        channel = await self._open_channel()
        try:
            return await message_count(channel, self._names.dlq)
        finally:
            await channel.close()

    async def _batches(self, browser: Browser, total: int) -> AsyncIterator[list[DeadMessage]]:
        """The first ``total`` dead messages (only what is dead now), a batch at a time."""
        taken = 0
        while taken < total:
            batch = await _take_some(browser, min(REPLAY_BATCH, total - taken))
            if not batch:
                return
            taken += len(batch)
            yield batch

    async def purge(self) -> int:
        """Delete every dead message; returns how many."""
        channel = await self._open_channel()
        try:
            ok = await channel.call("queue_purge", self._names.dlq)
        finally:
            await channel.close()
        return int(ok.method.message_count)

    async def _replay_batch(self, browser: Browser, batch: list[DeadMessage]) -> list[Job]:
        jobs: list[tuple[int, Job]] = []
        for message in batch:
            job = message.dead_job.job
            if job is not None:
                jobs.append((message.delivery_tag, job.fresh()))
        if jobs:
            await self._send([self._fresh_copy(job) for _, job in jobs])
            for delivery_tag, _ in jobs:
                browser.remove(delivery_tag)
        return [job for _, job in jobs]

    def _fresh_copy(self, job: Job) -> Outgoing:
        props = job_properties(job, self._max_priority)
        return Outgoing("", self._names.queue, job.encode(), props, job.id)

    @contextlib.asynccontextmanager
    async def _browse(self) -> AsyncIterator[Browser]:
        async with self._browsing:
            browser = Browser(await self._open_channel(), self._names.dlq)
            try:
                yield browser
            finally:
                await browser.put_back()


async def _take_some(browser: Browser, count: int) -> list[DeadMessage]:
    taken: list[DeadMessage] = []
    while len(taken) < count and (message := await browser.take()) is not None:
        taken.append(message)
    return taken


def _set(fut: Any, value: Any) -> None:
    if fut is not None and not fut.done():
        fut.set_result(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _clip_head(text: str | None) -> str | None:
    if text is None or len(text) <= TEXT_MAX_CHARS:
        return text
    return text[:TEXT_MAX_CHARS] + " …(truncated)"


def _clip_tail(text: str | None) -> str | None:
    # A traceback's end names the exception: keep that part.
    if text is None or len(text) <= TEXT_MAX_CHARS:
        return text
    return "…(truncated)\n" + text[-TEXT_MAX_CHARS:]


def attempts_in(body: bytes) -> int:
    """The job's attempts count, or 0 when the body is not a job."""
    try:
        return Job.decode(body).attempts
    except DecodeError:
        return 0


def _iso(moment: datetime) -> str:
    return iso_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
