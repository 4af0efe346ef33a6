"""The supervisor behind ``jobqueue up``, on tiny real processes: what it restarts, what not."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from jobqueue import supervisor as supervisor_module
from jobqueue.errors import ConfigError
from jobqueue.supervisor import Child, Supervisor

pytestmark = pytest.mark.timeout(60)

SLEEP_FOREVER = "import time; time.sleep(60)"
GUARD_S = 20.0  # how long a test waits for what it expects before it stops the supervisor


def python(code: str) -> list[str]:
    """The command line that runs ``code`` in a fresh interpreter."""
    return [sys.executable, "-c", code]


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """``Supervisor.run`` installs SIGINT/SIGTERM handlers; put pytest's back afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def sigterm_when(
    condition: Callable[[], bool], then_wait_s: float = 0.0
) -> Iterator[threading.Event]:
    """SIGTERM this process (the supervisor's stop) once ``condition`` holds, or at the guard;
    yields an event set when the signal was sent.

    ``then_wait_s`` leaves the supervisor that long after the condition, for what it must not do.
    """
    cancelled, fired = threading.Event(), threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + GUARD_S
        while not cancelled.is_set() and time.monotonic() < deadline and not condition():
            time.sleep(0.05)
        if not cancelled.wait(then_wait_s):
            fired.set()
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        cancelled.set()
        thread.join()


def test_an_api_that_keeps_exiting_right_after_it_starts_stops_everything_with_one_line() -> None:
    api = Child("api", python("import sys; sys.exit(3)"))
    worker = Child("worker-1", python(SLEEP_FOREVER))
    supervisor = Supervisor(api=api, workers=[worker], stop_timeout_s=10.0)

    with sigterm_when(lambda: False) as guard_fired, pytest.raises(ConfigError) as raised:
        supervisor.run()

    assert not guard_fired.is_set(), "the supervisor did not give up before the guard stopped it"
    message = str(raised.value)
    assert "\n" not in message
    assert "the API exited with code 3" in message
    assert f"{supervisor_module.API_EARLY_EXITS_MAX} times in a row" in message
    assert api.restarts == supervisor_module.API_EARLY_EXITS_MAX - 1
    assert worker.process is not None
    assert worker.process.poll() == -signal.SIGTERM


def test_an_api_that_ran_for_a_while_before_exiting_is_restarted_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor_module, "API_EARLY_EXIT_S", 0.3)
    api = Child("api", python("import time; time.sleep(0.6)"))
    supervisor = Supervisor(api=api, workers=[Child("worker-1", python(SLEEP_FOREVER))])

    with sigterm_when(lambda: api.restarts > supervisor_module.API_EARLY_EXITS_MAX):
        assert supervisor.run() == 0
    assert api.restarts > supervisor_module.API_EARLY_EXITS_MAX


def test_a_worker_that_exits_0_on_its_own_is_left_down_and_the_api_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="jobqueue.up")
    api = Child("api", python(SLEEP_FOREVER))
    done, running = Child("worker-1", python("pass")), Child("worker-2", python(SLEEP_FOREVER))
    supervisor = Supervisor(api=api, workers=[done, running])

    with sigterm_when(lambda: "not restarting it" in caplog.text, then_wait_s=1.5):
        assert supervisor.run() == 0
    assert done.restarts == 0
    assert "worker-1 exited with code 0 on its own" in caplog.text
    assert "(restart jobqueue up to bring it back)" in caplog.text
    assert caplog.text.count("started worker-1") == 1
    assert "every worker" not in caplog.text
    assert api.restarts == 0
    assert running.restarts == 0


def test_when_every_worker_has_exited_0_the_supervisor_says_the_api_runs_on_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="jobqueue.up")
    api = Child("api", python(SLEEP_FOREVER))
    workers = [Child(f"worker-{n}", python("pass")) for n in (1, 2)]
    supervisor = Supervisor(api=api, workers=workers)

    with sigterm_when(lambda: "every worker" in caplog.text, then_wait_s=0.5):
        assert supervisor.run() == 0
    assert "every worker has exited on its own; the API keeps running" in caplog.text
    assert api.restarts == 0
    assert all(worker.restarts == 0 for worker in workers)


@pytest.mark.parametrize(
    ("code", "logged"),
    [
        ("import sys; sys.exit(1)", "worker-1 exited with code 1; restarting it"),
        ("import os; os.kill(os.getpid(), 9)", "worker-1 was killed by SIGKILL; restarting it"),
    ],
)
def test_a_worker_that_crashes_or_is_killed_is_restarted(
    caplog: pytest.LogCaptureFixture, code: str, logged: str
) -> None:
    caplog.set_level("INFO", logger="jobqueue.up")
    worker = Child("worker-1", python(code))
    supervisor = Supervisor(api=Child("api", python(SLEEP_FOREVER)), workers=[worker])

    with sigterm_when(lambda: worker.restarts >= 2):
        assert supervisor.run() == 0
    assert worker.restarts >= 2
    assert logged in caplog.text
