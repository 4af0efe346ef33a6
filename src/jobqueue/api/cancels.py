"""Cancellations on their way to workers: the recent ones, and the answer for each heartbeat.

A job cancelled while it waits in the queue (``DELETE /jobs/{id}``) is ``cancelled`` in the store
at once, but its message is still in the broker: the worker that receives it must skip it. The
:class:`CancelLog` remembers such cancellations (the newest ``max_ids``, for ``window_s``) and
hands them to every worker in its heartbeat replies, each only once thanks to a cursor. A job
cancelled while it runs is found by asking the store about the jobs the heartbeat lists.

The window: a job still queued longer than ``window_s`` after its cancellation, or pushed out
by ``max_ids`` newer ones, runs when it is delivered (its events no longer change its state,
which stays ``cancelled``). So does one delivered within a heartbeat interval of its
cancellation. The log lives in the API process; with several API replicas on one Redis
registry, :mod:`jobqueue.api.cancel_feed` adds every replica's cancellations to every log, so a
worker hears of a cancellation made through any replica with its next heartbeat. Without it (or
while Redis is down), a running job asked to stop through another replica is still found through
the store within ``CANCEL_REFRESH_S`` (and the next heartbeat).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence

from jobqueue.store import Store

log = logging.getLogger("jobqueue.api")

CANCEL_WINDOW_S = 3600.0
MAX_CANCELLED_IDS = 10_000
CANCEL_REFRESH_S = 1.0
ASKED_MEMORY_S = 120.0
"""A job asked to stop is forgotten once no heartbeat listed it for this long."""


class CancelLog:
    """Jobs cancelled while queued, numbered in order, for ``window_s`` (at most ``max_ids``)."""

    def __init__(self, window_s: float = CANCEL_WINDOW_S, max_ids: int = MAX_CANCELLED_IDS) -> None:
        self.window_s = window_s
        self.max_ids = max_ids
        self._epoch = secrets.token_hex(4)  # a cursor from another process starts over
        self._seq = 0
        self._entries: collections.deque[tuple[int, str, float]] = collections.deque(maxlen=max_ids)

    @property
    def origin(self) -> str:
        """What tells this log's entries from another process's (the cursors' epoch)."""
        return self._epoch

    def add(self, job_id: str, age_s: float = 0.0) -> None:
        """Remember that ``job_id`` was cancelled (``age_s`` seconds ago)."""
        self._seq += 1
        self._entries.append((self._seq, job_id, time.monotonic() - age_s))

    def since(self, cursor: str) -> tuple[list[str], str]:
        """The ids added after ``cursor`` (all remembered for one not made here), and the cursor
        to send next time."""
        self._forget_old()
        after = self._seq_in(cursor)
        ids = [job_id for seq, job_id, _ in self._entries if seq > after]
        return ids, f"{self._epoch}:{self._seq}"

    def _seq_in(self, cursor: str) -> int:
        epoch, _, seq = cursor.partition(":")
        if epoch != self._epoch or not seq.isdigit() or int(seq) > self._seq:
            return 0
        return int(seq)

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - self.window_s
        while self._entries and self._entries[0][2] < cutoff:
            self._entries.popleft()


class StoreCancels:
    """The control plane's :class:`~jobqueue.control.server.CancelSource`: the log plus the store.

    Heartbeats never wait for the store: the ids they list are gathered, and every
    ``refresh_s`` one query asks the store which of them were asked to stop (through any API
    replica); each heartbeat answers from what the last query said. A running job asked to
    stop through this replica is in the log already, and so told at once.

    Use it as an async context manager (``async with cancels:``), which stops the refresh.
    """

    def __init__(
        self, store: Store, cancel_log: CancelLog, refresh_s: float = CANCEL_REFRESH_S
    ) -> None:
        self._store = store
        self._log = cancel_log
        self._refresh_s = refresh_s
        self._seen: set[str] = set()  # listed by heartbeats since the last query
        self._asked: dict[str, float] = {}  # asked to stop, as the store said: when last listed
        self._refresher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StoreCancels:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def cancels_for(self, job_ids: Sequence[str], cursor: str) -> tuple[list[str], str]:
        """Jobs among ``job_ids`` asked to stop, and jobs cancelled while queued since ``cursor``;
        and the cursor to send next time."""
        ids, next_cursor = self._log.since(cursor)
        if job_ids:
            self._seen.update(job_ids)
            if self._refresher is None:
                self._refresher = asyncio.create_task(self._refresh_forever())
            known, asked = set(ids), self._asked
            ids.extend(job_id for job_id in job_ids if job_id in asked and job_id not in known)
        return ids, next_cursor

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            seen, self._seen = self._seen, set()
            if seen:
                await self._refresh(seen)

    async def _refresh(self, seen: set[str]) -> None:
        now = time.monotonic()
        try:
            asked = await self._store.is_cancel_requested(sorted(seen))
        except Exception as exc:  # the next round may reach it
            log.debug("cannot ask the store about cancellations: %s", exc)
            return
        self._asked.update(dict.fromkeys(asked, now))
        for job_id in seen.intersection(self._asked):
            self._asked[job_id] = now
        stale = now - ASKED_MEMORY_S
        self._asked = {job_id: at for job_id, at in self._asked.items() if at >= stale}
