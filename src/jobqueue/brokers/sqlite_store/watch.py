"""Notice commits other connections make to the database, by polling ``PRAGMA data_version``.

``data_version`` changes whenever another connection (in this process or any other) commits;
reading it touches only shared memory, a few microseconds. A thread of its own polls it, and
only while a consumer is waiting for work, so a busy or publishing-only broker pays nothing.
The pause between polls starts at ``min_interval_s`` after a change and doubles up to
``max_interval_s`` while nothing changes: a stream of jobs is noticed within about a
millisecond, a lone job after an idle spell within ``max_interval_s``, and an idle consumer
costs a few hundred wake-ups a second at most.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class CommitWatcher:
    """Calls ``on_change`` (from its own thread) after another connection commits."""

    def __init__(
        self,
        path: Path,
        on_change: Callable[[], None],
        *,
        max_interval_s: float,
        min_interval_s: float = 0.001,
    ) -> None:
        self._path = path
        self._on_change = on_change
        self._max_interval_s = max_interval_s
        self._min_interval_s = min(min_interval_s, max_interval_s)
        self._wanted = threading.Event()
        self._waiters = 0
        self._closing = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the polling thread (idle until someone :meth:`want` s changes)."""
        self._thread = threading.Thread(target=self._run, name="jobqueue-sqlite-watch", daemon=True)
        self._thread.start()

    def want(self, waiting: bool) -> None:
        """Count a waiter in (True) or out (False); the thread polls while any is counted."""
        self._waiters += 1 if waiting else -1
        if self._waiters > 0:
            self._wanted.set()
        else:
            self._wanted.clear()

    def close(self) -> None:
        """Stop the thread and wait for it (at most one poll interval)."""
        self._closing = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            self._poll(conn)
        finally:
            conn.close()

    def _poll(self, conn: sqlite3.Connection) -> None:
        last = _data_version(conn)
        interval_s = self._min_interval_s
        while True:
            self._wanted.wait()
            if self._closing:
                return
            version = _data_version(conn)
            if version != last:
                last, interval_s = version, self._min_interval_s
                self._on_change()
            else:
                interval_s = min(interval_s * 2, self._max_interval_s)
            time.sleep(interval_s)


def _data_version(conn: sqlite3.Connection) -> int | None:
    try:
        return int(conn.execute("PRAGMA data_version").fetchone()[0])
    except sqlite3.Error as exc:
        # A transient error: report "changed" on the next success, which is harmless.
        log.debug("polling data_version failed: %s", exc)
        return None
