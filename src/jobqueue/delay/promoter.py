"""The promoter: a sidecar of every API process that publishes scheduled jobs once they are due.

It sleeps until the earliest ``run_at`` in the store, woken at once when this process schedules
an earlier job, and polls at least every :data:`POLL_S` (another replica, or a cron tick in
another transaction, may have scheduled one). Each round hands due jobs to the broker through
``Store.promote_due``: claimed, published (confirmed), marked queued, in one transaction, so
that of several replicas exactly one publishes each job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime

from jobqueue.background import in_background
from jobqueue.delay.fields import max_delay_s
from jobqueue.job import Job
from jobqueue.store import DueJob, Store
from jobqueue.store.events import utc_now

log = logging.getLogger("jobqueue.api")
POLL_S = 0.5
BATCH = 500
RETRY_S = 1.0  # after a failed round (store or broker down)
Publish = Callable[[Sequence[Job]], Awaitable[None]]
Observe = Callable[[Sequence[DueJob], datetime], None]


class Promoter:
    """Moves due jobs from ``store`` to the broker through ``publish``; ``observe`` is told of
    each batch handed over (with the time it was published), for the lateness metrics."""

    def __init__(
        self,
        store: Store,
        publish: Publish,
        observe: Observe | None = None,
        poll_s: float = POLL_S,
        batch: int = BATCH,
    ) -> None:
        self._store, self._publish, self._observe = store, publish, observe
        self._poll_s, self._batch = poll_s, batch
        self._wake = asyncio.Event()
        self._sleeping_until: datetime | None = None
        store.watch_scheduled(self.scheduled)

    def scheduled(self, earliest: datetime) -> None:
        """Jobs due at ``earliest`` were scheduled: wake now if that is before the next round."""
        if self._sleeping_until is None or earliest < self._sleeping_until:
            self._wake.set()

    async def promote_due(self) -> int:
        """Hand over every job due now, in batches; returns how many."""
        handed = 0
        while True:
            promoted = await self._store.promote_due(self._publish, self._batch)
            handed += len(promoted)
            if promoted and self._observe is not None:
                self._observe(promoted, utc_now())
            if len(promoted) < self._batch:
                return handed

    async def run(self) -> None:
        """Promote forever; never raises (a failed round is logged and tried again)."""
        while True:
            self._wake.clear()  # before reading: a job scheduled from here on wakes the sleep
            try:
                await self.promote_due()
                next_due = await self._store.next_run_at()
            except Exception as exc:
                log.warning("publishing due scheduled jobs failed: %s", exc)
                await self._sleep(RETRY_S, None)
                continue
            await self._sleep(self._delay_until(next_due), next_due)

    def _delay_until(self, next_due: datetime | None) -> float:
        if next_due is None:
            return self._poll_s
        return max(0.0, min(self._poll_s, (next_due - utc_now()).total_seconds()))

    async def _sleep(self, seconds: float, until: datetime | None) -> None:
        self._sleeping_until = until
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._sleeping_until = None


@contextlib.asynccontextmanager
async def promoting(
    store: Store, publish: Publish, observe: Observe | None = None, poll_s: float = POLL_S
) -> AsyncIterator[Promoter]:
    """A promoter running in the background for the duration of the block."""
    max_delay_s()  # a bad JOBQUEUE_MAX_DELAY_S stops the API at start, not at a submission
    promoter = Promoter(store, publish, observe, poll_s)
    async with in_background(promoter.run(), "jobqueue-promoter"):
        yield promoter
