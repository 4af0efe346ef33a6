"""Writers of one database file take turns through ``flock`` on a side file, ``NAME.db-lock``.

SQLite lets one writer in at a time and makes the others wait in its busy handler, which
sleeps 1, 2, 5, 10, 15, ... ms between tries. Under steady contention (two workers draining
one file, an API publishing while a worker claims) a waiter oversleeps commits that take a
fraction of a millisecond, and the writer that just committed often wins again. Every writer
of this package takes this lock before ``BEGIN IMMEDIATE``: the connections of one process
queue on a ``threading.Lock`` (woken the moment it is released), and the one at the head
waits for the file lock in short steps (50 µs, doubling up to 1 ms), so the write lock passes
from one writer to the next within about a millisecond: two workers on one file drain more
than one does. A writer that does not take it (another tool) is still kept out by SQLite
itself. Where ``flock`` is missing (Windows) or the side file cannot be opened, the
connections of a process still take turns, and SQLite keeps processes apart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Unix
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.00005
LONGEST_PAUSE_S = 0.001

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: Path) -> threading.Lock:
    """The lock the connections of this process to one database take turns on."""
    with _process_locks_guard:
        return _process_locks.setdefault(os.path.realpath(path), threading.Lock())


def lock_path(database: Path) -> Path:
    """Where the writer lock of ``database`` lives: ``NAME.db-lock`` beside ``NAME.db``."""
    return database.with_name(database.name + "-lock")


class WriterLock:
    """The turn of one connection to write; one object per connection (its own open file)."""

    def __init__(self, database: Path) -> None:
        self.path = lock_path(database)
        self._in_process = _process_lock(self.path)
        self._fd: int | None = None

    def open(self) -> None:
        """Open (creating) the side file; without it, :meth:`acquire` always succeeds at once."""
        if fcntl is None or self._fd is not None:
            return
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            log.debug("no writer lock at %s (SQLite alone keeps writers apart): %s", self.path, exc)

    def acquire(self, deadline: float) -> bool:
        """Take the turn, waiting until ``deadline`` (``time.monotonic``); whether it was taken."""
        if not self._in_process.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        if self._take_file_lock(deadline):
            return True
        self._in_process.release()
        return False

    def release(self) -> None:
        """Give the turn up."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._in_process.release()

    def _take_file_lock(self, deadline: float) -> bool:
        if self._fd is None:
            return True
        pause_s = FIRST_PAUSE_S
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, LONGEST_PAUSE_S)

    def close(self) -> None:
        """Close the side file (it stays, for the other writers)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
