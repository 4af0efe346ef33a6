"""Cancellations on their way to workers: the recent ones, and the answer for each heartbeat.

A job cancelled while it waits in the queue (``DELETE /jobs/{id}``) is ``cancelled`` in the store
at once, but its message is still in the broker: the worker that receives it must skip it. The
:class:`CancelLog` remembers such cancellations (the newest ``max_ids``, for ``window_s``) and
hands them to every worker in its heartbeat replies, each only once thanks to a cursor. A job
cancelled while it runs is found by asking the store about the jobs the heartbeat lists.

The window: a job still queued longer than ``window_s`` after its cancellation, or pushed out
by ``max_ids`` newer ones, runs when it is delivered (its events no longer change its state,
which stays ``cancelled``). So does one delivered within a heartbeat interval of its
cancellation. The log lives in the API process: with several API replicas, each tells its own
cancellations to the workers that heartbeat to it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import time
from collections.abc import Sequence

from jobqueue.store import Store

log = logging.getLogger("jobqueue.api")

CANCEL_WINDOW_S = 3600.0
MAX_CANCELLED_IDS = 10_000


class CancelLog:
    """Jobs cancelled while queued, numbered in order, for ``window_s`` (at most ``max_ids``)."""

    def __init__(self, window_s: float = CANCEL_WINDOW_S, max_ids: int = MAX_CANCELLED_IDS) -> None:
        self._window_s = window_s
        self._epoch = secrets.token_hex(4)  # a cursor from another process starts over
        self._seq = 0
        self._entries: collections.deque[tuple[int, str, float]] = collections.deque(maxlen=max_ids)

    def add(self, job_id: str) -> None:
        """Remember that ``job_id`` was cancelled while queued."""
        self._seq += 1
        self._entries.append((self._seq, job_id, time.monotonic()))

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
        cutoff = time.monotonic() - self._window_s
        while self._entries and self._entries[0][2] < cutoff:
            self._entries.popleft()


class StoreCancels:
    """The control plane's :class:`~jobqueue.control.server.CancelSource`: the log plus the store.

    Heartbeats that arrive together share one store query.
    """

    def __init__(self, store: Store, cancel_log: CancelLog) -> None:
        self._store = store
        self._log = cancel_log
        self._waiting: list[tuple[Sequence[str], asyncio.Future[set[str]]]] = []
        self._asking: asyncio.Task[None] | None = None

    async def cancels_for(self, job_ids: Sequence[str], cursor: str) -> tuple[list[str], str]:
        """Jobs among ``job_ids`` asked to stop, and jobs cancelled while queued since ``cursor``;
        and the cursor to send next time."""
        ids, next_cursor = self._log.since(cursor)
        if job_ids:
            try:
                asked = await self._ask(job_ids)
            except Exception as exc:  # the heartbeat must be answered whatever the store does
                log.debug("cannot ask the store about cancellations: %s", exc)
                asked = set()
            known = set(ids)
            ids.extend(job_id for job_id in job_ids if job_id in asked and job_id not in known)
        return ids, next_cursor

    async def _ask(self, job_ids: Sequence[str]) -> set[str]:
        done: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        self._waiting.append((job_ids, done))
        if self._asking is None:
            self._asking = asyncio.create_task(self._ask_all())
        return await done

    async def _ask_all(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                await self._ask_group(group)
        finally:
            self._asking = None

    async def _ask_group(self, group: list[tuple[Sequence[str], asyncio.Future[set[str]]]]) -> None:
        wanted = sorted({job_id for job_ids, _ in group for job_id in job_ids})
        try:
            found = await self._store.is_cancel_requested(wanted)
        except Exception as exc:
            for _, done in group:
                if not done.done():
                    done.set_exception(exc)
            return
        for job_ids, done in group:
            if not done.done():
                done.set_result(found.intersection(job_ids))
