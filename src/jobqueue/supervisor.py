"""Runs the API and N worker processes on one machine, restarts the ones that crash, stops all."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from jobqueue.errors import ConfigError

if TYPE_CHECKING:
    from jobqueue.scaling.loop import Autoscaler

log = logging.getLogger("jobqueue.up")

RESTART_BACKOFF_MAX_S = 10.0
QUICK_CRASH_S = 2.0
POLL_INTERVAL_S = 0.2
# An API that exits this soon after starting, this many times in a row, cannot start (a port
# taken, a broker URL it refuses): restarting it forever would only hide why.
API_EARLY_EXIT_S = 10.0
API_EARLY_EXITS_MAX = 3


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
    early_exits: int = 0
    retired: bool = False
    draining: bool = False  # sent SIGTERM to be retired: it finishes its jobs and exits

    def start(self, env: dict[str, str]) -> None:
        """Start the process in its own session so a terminal's Ctrl-C reaches only us."""
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)
        self.started_at = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.process.pid)

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def uptime_s(self) -> float:
        """How long the current (or last) process has been running."""
        return time.monotonic() - self.started_at

    def count_exit(self) -> None:
        """Count an exit towards the run of exits within ``API_EARLY_EXIT_S`` of starting."""
        self.early_exits = self.early_exits + 1 if self.uptime_s() < API_EARLY_EXIT_S else 0

    def schedule_restart(self) -> None:
        """Restart soon; back off when the process keeps dying right after it starts."""
        quick = self.uptime_s() < QUICK_CRASH_S
        self.backoff_s = min(RESTART_BACKOFF_MAX_S, max(0.5, self.backoff_s * 2)) if quick else 0.0
        self.next_start_at = time.monotonic() + self.backoff_s
        self.restarts += 1
        self.process = None

    def retire(self) -> None:
        """Leave the process down: it exited on request."""
        self.retired = True
        self.process = None

    def drain(self) -> None:
        """Ask the process to finish its jobs and exit (SIGTERM: the worker's graceful stop)."""
        self.draining = True
        self.started_at = time.monotonic()  # from now on, uptime_s is the drain's duration
        if self.process is not None and self.exited() is None:
            self.process.send_signal(signal.SIGTERM)
            log.info("draining %s (pid %d) to retire it", self.name, self.process.pid)


@dataclass
class Supervisor:
    """Keeps every child running until told to stop, then stops workers first, the API last.

    A worker that exits with code 0 left on request and stays down; one that crashes is
    restarted, with backoff. The API is restarted too, unless it keeps exiting right after it
    starts: then the supervisor gives up (:meth:`tend` raises) and everything stops.

    With a ``scaler`` (``--workers MIN:MAX``), the supervisor is also its :class:`WorkerPool`:
    the scaler adds workers and retires them by draining; a drained worker's exit removes it.
    """

    api: Child
    workers: list[Child]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stop_timeout_s: float = 60.0
    scaler: Autoscaler | None = None
    worker_argv: list[str] = field(default_factory=lambda: jobqueue_argv("worker"))
    worker_loads: Callable[[], Mapping[int, int]] | None = None  # pid → jobs held, to retire
    _stopping: bool = False
    _numbered: int = 0

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
        """Restart children that die (and scale the workers) until a stop is requested."""
        while not self._stopping:
            self.tend()
            if self.scaler is not None and not self._stopping:
                self.scaler.tick(self)
            time.sleep(POLL_INTERVAL_S)

    def serving(self) -> int:
        """Workers running or due to restart, not retired and not being drained."""
        return sum(1 for worker in self.workers if not worker.retired and not worker.draining)

    def add_worker(self) -> None:
        """Start one more worker process."""
        self._numbered = max(self._numbered, len(self.workers))
        self._numbered += 1
        worker = Child(f"worker-{self._numbered}", list(self.worker_argv))
        self.workers.append(worker)
        worker.start(self.env)

    def retire_worker(self) -> None:
        """Drain the serving worker that holds the fewest jobs (by ``worker_loads``; the
        newest among equals); one waiting for a restart is simply dropped."""
        serving = [w for w in self.workers if not w.retired and not w.draining]
        if not serving:
            return
        waiting = [worker for worker in serving if worker.process is None]
        if waiting:
            self.workers.remove(waiting[-1])
            log.info("dropped %s (it was waiting to be restarted)", waiting[-1].name)
            return
        loads = self.worker_loads() if self.worker_loads is not None else {}
        min(reversed(serving), key=lambda worker: _held(worker, loads)).drain()

    def tend(self) -> None:
        """One round: start the children whose restart is due, deal with the ones that exited.

        Raises :class:`ConfigError` when the API keeps exiting right after it starts.
        """
        for child in self.children:
            self._tend(child)

    def _tend(self, child: Child) -> None:
        if child.retired:
            return
        if child.process is None:
            if time.monotonic() >= child.next_start_at:
                child.start(self.env)
            return
        code = child.exited()
        if code is None or self._stopping:
            return
        if child is self.api:
            self._api_exited(code)
        else:
            self._worker_exited(child, code)

    def _api_exited(self, code: int) -> None:
        self.api.count_exit()
        if self.api.early_exits >= API_EARLY_EXITS_MAX:
            raise ConfigError(
                f"the API {describe_exit(code)} within {API_EARLY_EXIT_S:.0f}s of starting, "
                f"{self.api.early_exits} times in a row; stopped everything "
                "(its log above says why)"
            )
        log.warning("api %s; restarting it", describe_exit(code))
        self.api.schedule_restart()

    def _worker_exited(self, worker: Child, code: int) -> None:
        """Exit code 0 is a worker that left on request (drained, or a SIGTERM it obeyed): it
        stays down. Any other code, or a death by signal, is a crash: restart it. A worker
        being drained to retire it is removed, whatever its code."""
        if worker.draining:
            self.workers.remove(worker)
            level = logging.INFO if code == 0 else logging.WARNING
            log.log(
                level,
                "retired %s: %s after draining %.1fs",
                worker.name,
                describe_exit(code),
                worker.uptime_s(),
            )
            return
        if code != 0:
            log.warning("%s %s; restarting it", worker.name, describe_exit(code))
            worker.schedule_restart()
            return
        worker.retire()
        log.warning(
            "%s exited with code 0 on its own (drained or stopped); not restarting it "
            "(restart jobqueue up to bring it back)",
            worker.name,
        )
        if all(each.retired for each in self.workers):
            log.warning(
                "every worker has exited on its own; the API keeps running (Ctrl-C to stop it)"
            )

    def stop_all(self) -> int:
        """SIGTERM the workers and wait for them, then the API; kill what outlives the timeout."""
        worst = 0
        for group in (self.workers, [self.api]):
            for child in group:
                # one being drained has its SIGTERM already: a second hands its jobs back
                if child.process is not None and child.exited() is None and not child.draining:
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


def _held(worker: Child, loads: Mapping[int, int]) -> int:
    """The jobs ``worker`` holds as last reported; 0 when not reported (not yet registered)."""
    return 0 if worker.process is None else loads.get(worker.process.pid, 0)


def describe_exit(code: int) -> str:
    """``exited with code 3`` or, for a negative code, ``was killed by SIGKILL``."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def jobqueue_argv(*args: str) -> list[str]:
    """The command line that runs a jobqueue subcommand with this interpreter."""
    return [sys.executable, "-m", "jobqueue", *args]
