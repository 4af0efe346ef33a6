"""Wait for writes to a file with Linux inotify (through ctypes), instead of polling it."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import select
import sys
from pathlib import Path

log = logging.getLogger(__name__)

_IN_MODIFY = 0x00000002


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The C library is already loaded into Python; CDLL(None) finds its symbols without
        # the subprocess that ctypes.util.find_library runs.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_init1.restype = ctypes.c_int
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_add_watch.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


class FileWrites:
    """Tells when a file was written to, by any process on this machine."""

    def __init__(self, inotify_fd: int) -> None:
        self._fd = inotify_fd
        self._wake_read, self._wake_write = os.pipe()

    @classmethod
    def watch(cls, path: Path) -> FileWrites | None:
        """Watch ``path`` (which must exist), or None where inotify is not available."""
        libc = _libc()
        if libc is None:
            return None
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            log.debug("inotify_init1 failed: %s", os.strerror(ctypes.get_errno()))
            return None
        if libc.inotify_add_watch(fd, os.fsencode(path), _IN_MODIFY) < 0:
            log.debug("inotify cannot watch %s: %s", path, os.strerror(ctypes.get_errno()))
            os.close(fd)
            return None
        return cls(fd)

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` (or until :meth:`interrupt`); whether the file was written."""
        readable, _, _ = select.select([self._fd, self._wake_read], [], [], timeout_s)
        if self._wake_read in readable:
            os.read(self._wake_read, 64)
        if self._fd not in readable:
            return False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._fd, 4096):
                pass
        return True

    def interrupt(self) -> None:
        """Make a blocked :meth:`wait` return now."""
        os.write(self._wake_write, b"x")

    def close(self) -> None:
        """Release the inotify instance and the wake-up pipe."""
        for fd in (self._fd, self._wake_read, self._wake_write):
            os.close(fd)
