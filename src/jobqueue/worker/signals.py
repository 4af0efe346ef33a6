"""A running job's signals: its cancel flag and its throttled progress reports; recent cancels."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Iterable

PROGRESS_INTERVAL_S = 0.5
MAX_SKIPPED_IDS = 100_000

ProgressReport = Callable[[float, "str | None"], None]


class FlightSignals:
    """The :class:`jobqueue.handlers.JobSignals` of one job run by this worker.

    Progress reports are throttled to one per ``interval_s``: a report within the interval
    replaces the one waiting, which is sent when the interval ends, and :meth:`finish` sends
    the one still waiting, so the last report always arrives (before the job's final event).
    A handler may report from its thread: the report is handed to the event loop.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        report: ProgressReport | None,
        interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._report = report
        self._interval_s = interval_s
        self._cancelled = False
        self._finished = False
        self._sent_at = -math.inf
        self._waiting: tuple[float, str | None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    @property
    def cancelled(self) -> bool:
        """Whether the job was asked to stop."""
        return self._cancelled

    def cancel(self) -> None:
        """Ask the job to stop (the handler sees ``ctx.cancelled``)."""
        self._cancelled = True

    def progress(self, fraction: float, message: str | None) -> None:
        """Report progress from the loop or from any thread."""
        if self._report is None or self._finished:
            return
        if threading.get_ident() == self._loop_thread:
            self._on_loop(fraction, message)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the worker is gone
            self._loop.call_soon_threadsafe(self._on_loop, fraction, message)

    def finish(self) -> None:
        """The handler returned: send the report still waiting, ignore any later one."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._send_waiting()
        self._finished = True

    def _on_loop(self, fraction: float, message: str | None) -> None:
        if self._finished:
            return
        now = self._loop.time()
        if now - self._sent_at >= self._interval_s:
            self._send(fraction, message, now)
            return
        self._waiting = (fraction, message)
        if self._timer is None:
            self._timer = self._loop.call_at(self._sent_at + self._interval_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._send_waiting()

    def _send_waiting(self) -> None:
        if self._waiting is not None and not self._finished:
            fraction, message = self._waiting
            self._send(fraction, message, self._loop.time())

    def _send(self, fraction: float, message: str | None, now: float) -> None:
        self._waiting = None
        self._sent_at = now
        assert self._report is not None
        self._report(fraction, message)


class RecentIds:
    """A bounded set of ids, the oldest forgotten first: jobs cancelled before they ran here."""

    def __init__(self, max_ids: int = MAX_SKIPPED_IDS) -> None:
        self._max_ids = max_ids
        self._ids: dict[str, None] = {}

    def add_all(self, ids: Iterable[str]) -> None:
        """Remember ``ids`` (as the newest)."""
        for job_id in ids:
            self._ids.pop(job_id, None)
            self._ids[job_id] = None
        while len(self._ids) > self._max_ids:
            del self._ids[next(iter(self._ids))]

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
