"""What the API keeps for job status: the store, change notifications, recent cancellations."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from jobqueue.api.cancels import CancelLog
from jobqueue.store import JobRecord, Store

STORE_POLL_S = 1.0
"""A long-poll also reads the store this often: another replica may have applied the events."""


class JobWatch:
    """In-process notice that jobs changed, so that long-polls need not poll the store hard.

    The events consumer calls :meth:`changed` after each batch it applied; a request waiting
    for a job holds :meth:`watching` and wakes when that job is named.
    """

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watching(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``job_id`` changes, for the duration of the block."""
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    def changed(self, job_ids: Iterable[str]) -> None:
        """Wake whoever waits for one of ``job_ids``."""
        if not self._waiters:
            return
        for job_id in job_ids:
            for event in self._waiters.get(job_id, ()):
                event.set()

    async def wait_final(self, store: Store, job_id: str, wait_s: float) -> JobRecord | None:
        """The job's record once it is final, or as it is after ``wait_s``; None if unknown."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        with self.watching(job_id) as changed:
            while True:
                changed.clear()
                record = await store.get(job_id)
                remaining_s = deadline - loop.time()
                if record is None or record.finished or remaining_s <= 0:
                    return record
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining_s, STORE_POLL_S)):
                        await changed.wait()


class CancelFeed(Protocol):
    """Where the other API replicas hear of this one's cancellations
    (:class:`jobqueue.api.cancel_feed.RedisCancelFeed`)."""

    async def announce(self, job_ids: Sequence[str]) -> None:
        """Tell the other replicas that these jobs were cancelled; never raises."""


@dataclass
class Tracking:
    """The API's job-status parts, shared by the routes, the events consumer and gRPC."""

    store: Store
    watch: JobWatch = field(default_factory=JobWatch)
    cancels: CancelLog = field(default_factory=CancelLog)
    feed: CancelFeed | None = None

    async def cancelled(self, job_ids: Sequence[str]) -> None:
        """The store has these jobs cancelled (or asked to stop): tell the workers, through
        this replica's heartbeat replies and every other replica's, and wake their waiters."""
        for job_id in job_ids:
            self.cancels.add(job_id)
        self.watch.changed(job_ids)
        if self.feed is not None:
            await self.feed.announce(job_ids)
