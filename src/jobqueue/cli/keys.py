"""Single key presses from the terminal, without Enter, for full-screen commands."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator


class Keys:
    """Waits for a key on a terminal in cbreak mode (or just waits, without a terminal)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def wait(self, timeout_s: float) -> str | None:
        """The key pressed within ``timeout_s``, or None."""
        if self._fd is None:
            time.sleep(timeout_s)
            return None
        ready, _, _ = select.select([self._fd], [], [], timeout_s)
        if not ready:
            return None
        data = os.read(self._fd, 32)
        return data.decode("utf-8", "replace")[:1] if data else "q"  # end of input: quit


@contextlib.contextmanager
def keypresses() -> Iterator[Keys]:
    """Keys of the standard input while the block runs, its terminal mode restored after."""
    if not sys.stdin.isatty():
        yield Keys(None)
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield Keys(fd)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
