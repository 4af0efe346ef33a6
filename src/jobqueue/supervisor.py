"""Runs the API and N worker processes on one machine, restarts the ones that die, stops all."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("jobqueue.up")

RESTART_BACKOFF_MAX_S = 10.0
QUICK_CRASH_S = 2.0
POLL_INTERVAL_S = 0.2


@dataclass
class Child:
    """One supervised process: its command line, the live process, and its restart history."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff_s: float = 0.0
    next_start_at: float = 0.0

    def start(self, env: dict[str, str]) -> None:
        """Start the process in its own session so a terminal's Ctrl-C reaches only us."""
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)
        self.started_at = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.process.pid)

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def schedule_restart(self) -> None:
        """Restart soon; back off when the process keeps dying right after it starts."""
        quick = time.monotonic() - self.started_at < QUICK_CRASH_S
        self.backoff_s = min(RESTART_BACKOFF_MAX_S, max(0.5, self.backoff_s * 2)) if quick else 0.0
        self.next_start_at = time.monotonic() + self.backoff_s
        self.restarts += 1
        self.process = None


@dataclass
class Supervisor:
    """Keeps every child running until told to stop, then stops workers first, the API last."""

    api: Child
    workers: list[Child]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stop_timeout_s: float = 60.0
    _stopping: bool = False

    @property
    def children(self) -> list[Child]:
        """Workers first: they stop first, so the API outlives the jobs they finish."""
        return [*self.workers, self.api]

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._stopping

    def request_stop(self, signum: int, _frame: FrameType | None = None) -> None:
        """Signal handler: begin a graceful stop (a second signal is ignored here)."""
        if not self._stopping:
            log.info("received %s: stopping every process", signal.Signals(signum).name)
        self._stopping = True

    def start_all(self) -> None:
        """Start the API, then the workers."""
        for child in (self.api, *self.workers):
            child.start(self.env)

    def watch(self) -> None:
        """Restart children that die until a stop is requested."""
        while not self._stopping:
            for child in self.children:
                self._tend(child)
            time.sleep(POLL_INTERVAL_S)

    def _tend(self, child: Child) -> None:
        if child.process is None:
            if time.monotonic() >= child.next_start_at:
                child.start(self.env)
            return
        code = child.exited()
        if code is not None and not self._stopping:
            log.warning("%s exited with code %d; restarting it", child.name, code)
            child.schedule_restart()

    def stop_all(self) -> int:
        """SIGTERM the workers and wait for them, then the API; kill what outlives the timeout."""
        worst = 0
        for group in (self.workers, [self.api]):
            for child in group:
                if child.process is not None and child.exited() is None:
                    child.process.send_signal(signal.SIGTERM)
            for child in group:
                worst = max(worst, self._reap(child))
        return worst

    def _reap(self, child: Child) -> int:
        if child.process is None:
            return 0
        try:
            code = child.process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0fs; killing it", child.name, self.stop_timeout_s)
            child.process.kill()
            code = child.process.wait()
        log.info("%s stopped (exit code %d)", child.name, code)
        return 0 if code in (0, -signal.SIGTERM) else 1

    def run(self, on_started: Callable[[], None] | None = None) -> int:
        """Start everything, supervise until SIGINT/SIGTERM, stop everything; the exit code."""
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        try:
            self.start_all()
            if on_started is not None:
                on_started()
            self.watch()
        finally:
            code = self.stop_all()
        return code


def jobqueue_argv(*args: str) -> list[str]:
    """The command line that runs a jobqueue subcommand with this interpreter."""
    return [sys.executable, "-m", "jobqueue", *args]
