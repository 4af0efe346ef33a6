"""A file beside the database that a broker writes to after a commit that may make rows due.

Waiting consumers in other processes sleep in inotify on it (``sqlite_store.watch``), so a
ring wakes them exactly when a publish, retry, release or replay has been committed, and only
then: claims and acks, the bulk of the commits, ring nothing. A ring is a one-byte write at
offset 0, so the file never grows. A writer that does not ring (a crash between commit and
ring, another tool) is still noticed by the watcher's slower poll of ``PRAGMA data_version``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def bell_path(database: Path) -> Path:
    """Where the doorbell of ``database`` lives: ``NAME.db-bell`` beside ``NAME.db``."""
    return database.with_name(database.name + "-bell")


class Doorbell:
    """The writing end: :meth:`ring` after a commit that may make rows due."""

    def __init__(self, database: Path) -> None:
        self.path = bell_path(database)
        self._fd: int | None = None

    def open(self) -> None:
        """Create the file if missing (best effort: without it, watchers fall back to polling)."""
        if self._fd is not None:
            return
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            log.debug("no doorbell at %s: %s", self.path, exc)

    def ring(self) -> None:
        """Wake the watchers (a write of one byte; never fails the caller)."""
        if self._fd is None:
            return
        try:
            os.pwrite(self._fd, b"\0", 0)
        except OSError as exc:
            log.debug("could not ring %s: %s", self.path, exc)

    def close(self) -> None:
        """Close the file (it stays for the other processes)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
