"""The supervisor as the scaling loop's pool, on real processes (``sleep`` stands in for a
worker): it numbers the workers it adds, drains the one holding the fewest jobs, and removes a
drained worker when it exits instead of restarting it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from jobqueue.supervisor import Child, Supervisor

SLEEPER = ["sleep", "60"]


@pytest.fixture
def pool() -> Iterator[Supervisor]:
    """A supervisor of two sleeping 'workers' (the API a sleeper too), stopped at the end."""
    supervisor = Supervisor(
        api=Child("api", SLEEPER),
        workers=[Child("worker-1", SLEEPER), Child("worker-2", SLEEPER)],
        env={},
        stop_timeout_s=5,
        worker_argv=SLEEPER,
    )
    supervisor.start_all()
    try:
        yield supervisor
    finally:
        supervisor.stop_all()


def pid(worker: Child) -> int:
    """The worker's process id."""
    assert worker.process is not None
    return worker.process.pid


def tend_until(supervisor: Supervisor, done: object, timeout_s: float = 10.0) -> None:
    """Tend the children until ``done()`` is true."""
    deadline = time.monotonic() + timeout_s
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the pool did not settle"
        supervisor.tend()
        time.sleep(0.05)


def test_added_workers_are_numbered_on(pool: Supervisor) -> None:
    pool.add_worker()
    pool.add_worker()
    assert [worker.name for worker in pool.workers] == [f"worker-{n}" for n in range(1, 5)]
    assert pool.serving() == 4


def test_the_worker_holding_fewest_jobs_is_drained_and_then_removed(pool: Supervisor) -> None:
    busy, idle = pool.workers
    pool.worker_loads = lambda: {pid(busy): 3, pid(idle): 0}

    pool.retire_worker()

    assert (idle.draining, busy.draining) == (True, False)
    assert pool.serving() == 1
    tend_until(pool, lambda: idle not in pool.workers)
    assert idle.process is not None
    assert idle.process.returncode == -signal.SIGTERM
    assert pool.workers == [busy]  # not restarted


def test_without_loads_the_newest_worker_is_drained(pool: Supervisor) -> None:
    pool.retire_worker()
    assert [worker.draining for worker in pool.workers] == [False, True]


def test_a_worker_waiting_for_its_restart_is_dropped_not_drained(pool: Supervisor) -> None:
    first, second = pool.workers
    assert first.process is not None
    first.process.kill()
    tend_until(pool, lambda: first.process is None)  # crashed: its restart is scheduled
    first.next_start_at = time.monotonic() + 60

    pool.retire_worker()

    assert pool.workers == [second]
    assert not second.draining
