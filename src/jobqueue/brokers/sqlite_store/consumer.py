"""One ``deliveries()`` iterator of the SQLite broker: claim while slots are free, else sleep.

The loop clears its nudge event *before* it looks at the queue, so a publish or a settlement
by this broker that lands while it looks makes the next wait return at once; and it takes the
commit watcher's mark before it looks, so a commit by another connection meanwhile makes it
look again rather than wait (see ``sqlite_store.watch``). No wake-up is ever lost, and
spurious ones cost one cheap read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from jobqueue.brokers import Delivery
from jobqueue.brokers.sqlite_store.jobs import Lease
from jobqueue.errors import BrokerError

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 5.0


class ClaimSource(Protocol):
    """Where a consumer gets its deliveries (``leases.Leases``)."""

    async def claim(self, limit: int) -> tuple[list[Delivery], float | None]:
        """Claim up to ``limit`` deliveries; with none, also when the next row is due."""

    async def hand_back(self, deliveries: list[Delivery]) -> None:
        """Release claimed deliveries that were never yielded."""


class Watch(Protocol):
    """What notices other connections' commits (``watch.CommitWatcher``)."""

    def mark(self) -> int:
        """A mark to take before looking at the queue."""

    def wait_for(self, due_before: float, since: int) -> int | None:
        """Start a wait for a row due before ``due_before``; None: look again instead."""

    def stop_waiting(self, ticket: int) -> None:
        """End a wait."""


class Consumer:
    """Yields deliveries, never more than ``prefetch`` unsettled at once.

    Each wait for work is registered with ``watch``, which nudges the consumer when another
    connection's commit makes a row due sooner; ``on_finish`` is called when the iterator ends.
    """

    def __init__(
        self,
        source: ClaimSource,
        prefetch: int,
        *,
        watch: Watch,
        on_finish: Callable[[Consumer], None],
    ) -> None:
        self._source = source
        self._prefetch = prefetch
        self._watch = watch
        self._on_finish = on_finish
        self._unsettled: set[int] = set()
        self._buffer: list[Delivery] = []
        self._nudge = asyncio.Event()
        self._stopped = False
        self._failures = 0

    def nudge(self) -> None:
        """Something changed (new job, freed slot): look again."""
        self._nudge.set()

    def stop(self) -> None:
        """Yield nothing more; the iterator ends at its next step."""
        self._stopped = True
        self._nudge.set()

    def settled(self, lease: Lease) -> None:
        """A delivery was settled: its slot is free."""
        if lease.seq in self._unsettled:
            self._unsettled.discard(lease.seq)
            self._nudge.set()

    async def run(self) -> AsyncIterator[Delivery]:
        """The deliveries, until :meth:`stop`; claimed but unyielded ones are handed back."""
        try:
            while True:
                self._nudge.clear()
                if self._stopped:
                    return
                free = self._prefetch - len(self._unsettled)
                if free <= 0:
                    await self._nudge.wait()
                    continue
                mark = self._watch.mark()
                try:
                    batch, next_due_at = await self._source.claim(free)
                except BrokerError as exc:
                    if self._stopped:
                        return
                    await self._back_off(exc)
                    continue
                self._failures = 0
                if not batch:
                    await self._wait_for_work(next_due_at, mark)
                    continue
                self._buffer.extend(batch)
                while self._buffer and not self._stopped:
                    delivery = self._buffer.pop(0)
                    assert isinstance(delivery.token, Lease)
                    self._unsettled.add(delivery.token.seq)
                    yield delivery
        finally:
            await self._finish()

    async def _back_off(self, exc: BrokerError) -> None:
        # The file may be on a disk that is full or briefly unreachable: keep trying, as a
        # RabbitMQ consumer keeps reconnecting, rather than ending the iterator.
        self._failures += 1
        pause_s = min(_MAX_BACKOFF_S, 0.05 * 2**self._failures)
        log.warning("claiming jobs failed (%s); trying again in %.1f s", exc, pause_s)
        await self._nudged_or_timeout(pause_s)

    async def _wait_for_work(self, due_at: float | None, mark: int) -> None:
        """Sleep until ``due_at`` (None: no row), a nudge, or a commit making a row due sooner."""
        ticket = self._watch.wait_for(math.inf if due_at is None else due_at, since=mark)
        if ticket is None:
            return
        try:
            await self._nudged_or_timeout(None if due_at is None else due_at - time.time())
        finally:
            self._watch.stop_waiting(ticket)

    async def _nudged_or_timeout(self, timeout_s: float | None) -> None:
        try:
            async with asyncio.timeout(None if timeout_s is None else max(0.0, timeout_s)):
                await self._nudge.wait()
        except TimeoutError:
            pass

    async def _finish(self) -> None:
        self._on_finish(self)
        buffer, self._buffer = self._buffer, []
        if buffer:
            await self._source.hand_back(buffer)
