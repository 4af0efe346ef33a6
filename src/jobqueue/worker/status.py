"""The worker's status reporter: lifecycle events to the events queue, in batches (group commit).

Events that only inform (``running``, ``progress``) are fire-and-forget: they wait at most
``linger_s`` for company before they are published. Events that end an attempt (``succeeded``,
``failed_attempt`` with ``retrying`` or ``dead``, ``cancelled``) are *committed*: the caller
waits until the broker confirmed the message that carries them, and only then settles the job's
delivery, so a crash can never lose a job's final state. A commit waits ``commit_linger_s`` for
company, then is published as soon as one of ``max_in_flight`` publish slots is free; whatever
arrives meanwhile collects into the next message (``max_batch`` events at most). Under load,
many jobs thus share one publish and one confirm (and the API one transaction), and an idle
worker's commit costs the linger and one round trip.

A publish that fails is tried again with backoff (the broker reconnects by itself); the events
wait, in order, and a commit still waiting ``commit_timeout_s`` after it began raises
``BrokerUnavailable`` (its events are still published when the broker is back). Past
``max_pending`` events, the oldest fire-and-forget ones are dropped, with a warning.

Events are :class:`~jobqueue.store.JobEvent` objects or, on the worker's hot path, their wire
form built directly.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from jobqueue.brokers import Broker
from jobqueue.errors import BrokerError, BrokerUnavailable
from jobqueue.store.transport import StatusEvent, batch_message

log = logging.getLogger("jobqueue.worker")

MAX_BATCH_EVENTS = 200
LINGER_S = 0.02
COMMIT_LINGER_S = 0.002
MAX_IN_FLIGHT = 2
MAX_PENDING_EVENTS = 100_000
COMMIT_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0
RETRY_MIN_S = 0.1
RETRY_MAX_S = 5.0


@dataclass(slots=True)
class _Entry:
    events: Sequence[StatusEvent]
    done: asyncio.Future[None] | None
    deadline: float = 0.0


class StatusReporter:
    """Publishes a worker's lifecycle events through ``broker`` (the events queue)."""

    def __init__(
        self,
        broker: Broker,
        *,
        max_batch: int = MAX_BATCH_EVENTS,
        linger_s: float = LINGER_S,
        commit_linger_s: float = COMMIT_LINGER_S,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_pending: int = MAX_PENDING_EVENTS,
        commit_timeout_s: float = COMMIT_TIMEOUT_S,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
    ) -> None:
        self.broker = broker
        self.commit_timeout_s = commit_timeout_s
        self.close_timeout_s = close_timeout_s
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._commit_linger_s = commit_linger_s
        self._max_in_flight = max_in_flight
        self._max_pending = max_pending
        self._pending: collections.deque[_Entry] = collections.deque()
        self._pending_events = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._timer: asyncio.Handle | None = None  # uvloop's call_at of a past time: no when()
        self._timer_at = 0.0
        self._due_at: float | None = None  # when what is pending must go
        self._closing = False
        self._retry_delay_s = 0.0
        self._paused_until = 0.0
        self._idle = asyncio.Event()
        self._idle.set()
        self.published = 0  # events confirmed
        self.messages = 0  # messages confirmed
        self.confirm_s = 0.0  # time spent waiting for confirms, over all messages

    async def start(self) -> None:
        """Connect the events broker; if it is down, publishing keeps trying later."""
        try:
            await self.broker.connect()
        except BrokerUnavailable as exc:
            log.warning("status events: broker unavailable (%s); will keep trying", exc)

    def emit(self, event: StatusEvent) -> None:
        """Publish ``event`` soon; nobody waits for it."""
        self._add(_Entry((event,), None))

    async def commit(self, events: Sequence[StatusEvent]) -> None:
        """Publish ``events`` now (with whatever waits) and return once they are durable;
        ``BrokerUnavailable`` if publishing keeps failing for ``commit_timeout_s``."""
        if not events:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._add(_Entry(events, done, loop.time() + self.commit_timeout_s))
        await done

    async def close(self) -> None:
        """Publish what is pending (for up to ``close_timeout_s``), then close the broker."""
        self._closing = True  # everything left goes now
        self._kick()
        try:
            async with asyncio.timeout(self.close_timeout_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning("status events: %d not published at exit", self._pending_events)
        for task in list(self._in_flight):
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        if self.messages:
            log.info(
                "status events: %d published in %d messages, %.1f ms to confirm on average",
                *(self.published, self.messages, 1000 * self.confirm_s / self.messages),
            )
        with contextlib.suppress(Exception):
            await self.broker.close()

    # -- batching -------------------------------------------------------------------------------

    def _add(self, entry: _Entry) -> None:
        self._pending.append(entry)
        self._pending_events += len(entry.events)
        self._idle.clear()
        linger_s = self._linger_s if entry.done is None else self._commit_linger_s
        now = asyncio.get_running_loop().time()
        due_at = now + linger_s
        if self._due_at is None or due_at < self._due_at:
            self._due_at = due_at
        if self._pending_events > self._max_pending:
            self._drop_oldest()
        self._kick(now)

    def _kick(self, now: float | None = None) -> None:
        """Start publishes while slots are free and something is due; else wait until it is."""
        if now is None:
            now = asyncio.get_running_loop().time()
        if now < self._paused_until:
            return
        while self._pending and len(self._in_flight) < self._max_in_flight and self._is_due(now):
            task = asyncio.create_task(self._publish(self._take_batch()))
            self._in_flight.add(task)
        if self._pending and not self._is_due(now):
            self._wake_at(self._due_at or now)
        if not self._pending and not self._in_flight:
            self._idle.set()

    def _is_due(self, now: float) -> bool:
        if self._closing or self._pending_events >= self._max_batch:
            return True
        return self._due_at is not None and now >= self._due_at

    def _wake_at(self, when: float) -> None:
        if self._timer is not None and self._timer_at <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._kick()

    def _take_batch(self) -> list[_Entry]:
        batch: list[_Entry] = []
        count = 0
        while self._pending and (not batch or count + self._next_size() <= self._max_batch):
            entry = self._pending.popleft()
            batch.append(entry)
            count += len(entry.events)
        self._pending_events -= count
        if not self._pending:
            self._due_at = None
        return batch

    def _next_size(self) -> int:
        return len(self._pending[0].events)

    async def _publish(self, batch: list[_Entry]) -> None:
        events = [event for entry in batch for event in entry.events]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self.broker.publish([batch_message(events)])
        except BrokerError as exc:
            self._failed(batch, exc)
        else:
            self.confirm_s += loop.time() - started
            self.messages += 1
            self._published(batch, len(events))
        finally:
            self._in_flight.discard(asyncio.current_task())
            self._kick()

    def _published(self, batch: list[_Entry], count: int) -> None:
        self.published += count
        if self._retry_delay_s:
            log.info("status events: publishing again")
            self._retry_delay_s = 0.0
        for entry in batch:
            if entry.done is not None and not entry.done.done():
                entry.done.set_result(None)

    def _failed(self, batch: list[_Entry], exc: BrokerError) -> None:
        """Put the batch back in front, in order, fail the commits past their deadline, and
        pause before the next try."""
        now = asyncio.get_running_loop().time()
        for entry in reversed(batch):
            self._pending.appendleft(entry)
            self._pending_events += len(entry.events)
        self._due_at = now
        for entry in self._pending:
            if entry.done is not None and not entry.done.done() and entry.deadline <= now:
                entry.done.set_exception(
                    BrokerUnavailable(f"status events not confirmed for {self.commit_timeout_s:g}s")
                )
        if not self._retry_delay_s:
            log.warning("status events: publish failed (%s); retrying", exc)
        self._retry_delay_s = min(max(RETRY_MIN_S, self._retry_delay_s * 2), RETRY_MAX_S)
        loop = asyncio.get_running_loop()
        self._paused_until = loop.time() + self._retry_delay_s
        loop.call_later(self._retry_delay_s, self._resume)

    def _resume(self) -> None:
        task = asyncio.create_task(self._reconnect_then_kick())
        self._in_flight.add(task)

    async def _reconnect_then_kick(self) -> None:
        try:
            with contextlib.suppress(BrokerError):
                await self.broker.connect()
        finally:
            self._in_flight.discard(asyncio.current_task())
            self._kick()

    def _drop_oldest(self) -> None:
        kept: collections.deque[_Entry] = collections.deque()
        dropped = 0
        while self._pending:
            entry = self._pending.popleft()
            if entry.done is None and self._pending_events - dropped > self._max_pending:
                dropped += len(entry.events)
            else:
                kept.append(entry)
        self._pending = kept
        self._pending_events -= dropped
        if dropped:
            log.warning("status events: dropped %d waiting events (broker unreachable)", dropped)
