"""Wake waiting consumers when another connection's commit makes a row of their queue due sooner.

A thread of its own notices commits, only while some consumer waits for work, so a busy or
publishing-only broker pays nothing. After a commit it asks its own connection when the
queue's earliest row is due, and wakes the consumers only when that is sooner than some
waiting consumer planned to look again: a commit to another queue costs one indexed read in
this thread, not a trip through the event loop and the database thread.

On Linux the thread sleeps in inotify on the database's doorbell (``sqlite_store.doorbell``),
which brokers ring right after committing a publish, retry, release or replay: a new job is
noticed well within a millisecond, and claims and acks wake nobody. Every
``INOTIFY_MAX_INTERVAL_S`` it also reads ``PRAGMA data_version`` (which changes whenever
another connection, in any process, commits; a read touches only shared memory), to notice
a writer that did not ring. Elsewhere, or when inotify is unavailable, it polls
``data_version``: pauses from 1 ms, doubling while nothing changes, up to
``poll_interval_s``, so a lone job after an idle spell waits at most that long, at the cost
of a few hundred wake-ups a second while idle.

No wake-up is lost to the gap between a consumer's look at the queue and the start of its
wait: it takes a :meth:`CommitWatcher.mark` before it looks, and :meth:`CommitWatcher.wait_for`
refuses to start the wait if a commit was seen since then (the consumer looks again instead).
Every commit seen after the wait starts is checked against the wait's deadline.
"""

from __future__ import annotations

import itertools
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jobqueue.brokers.sqlite_store import jobs as rows
from jobqueue.brokers.sqlite_store.doorbell import bell_path
from jobqueue.brokers.sqlite_store.inotify import FileWrites

log = logging.getLogger(__name__)

INOTIFY_MAX_INTERVAL_S = 0.25
POLL_MIN_INTERVAL_S = 0.001


class CommitWatcher:
    """Calls ``on_due`` (from its own thread) when a waiting consumer of ``queue`` should look."""

    def __init__(
        self,
        path: Path,
        queue: str,
        on_due: Callable[[], None],
        *,
        poll_interval_s: float,
        use_inotify: bool = True,
    ) -> None:
        self._path = path
        self._queue = queue
        self._on_due = on_due
        self._poll_interval_s = poll_interval_s
        self._use_inotify = use_inotify
        self._writes: FileWrites | None = None
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._waits: dict[int, float] = {}
        self._tickets = itertools.count()
        self._changes = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def uses_inotify(self) -> bool:
        """Whether the doorbell wakes the watcher (else it polls)."""
        return self._writes is not None

    def start(self) -> None:
        """Start the thread (idle until a consumer waits).

        Call once the doorbell exists (``Doorbell.open``), so that it can be watched.
        """
        self._closing = False
        if not self._waits:
            self._wanted.clear()
        if self._use_inotify:
            self._writes = FileWrites.watch(bell_path(self._path))
        self._thread = threading.Thread(target=self._run, name="jobqueue-sqlite-watch", daemon=True)
        self._thread.start()

    def mark(self) -> int:
        """A mark to take before looking at the queue, for :meth:`wait_for`."""
        return self._changes

    def wait_for(self, due_before: float, since: int) -> int | None:
        """Start a wait for a row due before ``due_before`` (unix s; ``math.inf``: any row).

        Returns a ticket for :meth:`stop_waiting`, or None (no wait started) when a commit was
        seen since the mark ``since``: what the consumer saw may be stale, so it looks again.
        """
        with self._lock:
            if self._changes != since:
                return None
            ticket = next(self._tickets)
            self._waits[ticket] = due_before
            self._wanted.set()
        return ticket

    def stop_waiting(self, ticket: int) -> None:
        """End a wait :meth:`wait_for` started; the thread pauses once none is left."""
        with self._lock:
            self._waits.pop(ticket, None)
            if not self._waits:
                self._wanted.clear()

    def close(self) -> None:
        """Stop the thread and wait for it."""
        self._closing = True
        self._wanted.set()
        if self._writes is not None:
            self._writes.interrupt()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._writes is not None:
            self._writes.close()
            self._writes = None

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            self._watch(conn)
        finally:
            conn.close()

    def _watch(self, conn: sqlite3.Connection) -> None:
        shortest_s, longest_s = self._intervals()
        last = _data_version(conn)
        interval_s = shortest_s
        rang = False
        while True:
            self._wanted.wait()
            if self._closing:
                return
            version = _data_version(conn)
            if rang or version != last:
                last, interval_s = version, shortest_s
                self._changed(conn)
            else:
                interval_s = min(interval_s * 2, longest_s)
            rang = self._sleep(interval_s)

    def _changed(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            self._changes += 1
            latest = max(self._waits.values(), default=None)
        if latest is not None and _due_at(conn, self._queue) < latest:
            self._on_due()

    def _intervals(self) -> tuple[float, float]:
        if self._writes is not None:
            return INOTIFY_MAX_INTERVAL_S, INOTIFY_MAX_INTERVAL_S
        return min(POLL_MIN_INTERVAL_S, self._poll_interval_s), self._poll_interval_s

    def _sleep(self, interval_s: float) -> bool:
        """Sleep up to ``interval_s``; whether the doorbell cut it short."""
        if self._writes is None:
            time.sleep(interval_s)
            return False
        return self._writes.wait(interval_s)


def _data_version(conn: sqlite3.Connection) -> int | None:
    try:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])
    except sqlite3.Error as exc:
        # Transient (the file is busy being recovered): the next success reads as a change,
        # which costs one spurious look.
        log.debug("reading data_version failed: %s", exc)
        return None


def _due_at(conn: sqlite3.Connection, queue: str) -> float:
    """When the queue's earliest row is due (``math.inf`` if empty); on error, now (look)."""
    try:
        due_at = rows.next_visible_at(conn, queue)
    except sqlite3.Error as exc:
        log.debug("reading the next due time failed: %s", exc)
        return -math.inf
    return math.inf if due_at is None else due_at
