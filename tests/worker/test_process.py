"""`jobqueue worker` as a process: killed mid-job, stopped by SIGTERM, refusing bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobqueue.brokers import Broker, QueueDepth
from jobqueue.job import Job
from tests.worker.conftest import BOTH_BACKENDS, Place

WAIT_S = 60.0  # a guard against hangs; a loaded machine starts Python slowly
EMPTY = QueueDepth(ready=0, delayed=0, dead=0)


class WorkerProcess:
    """`python -m jobqueue worker` in a child process, its log read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, place: Place, *args: str, lease_s: float = 1.0) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
        env |= {
            "JOBQUEUE_BROKER_URL": place.url,
            "JOBQUEUE_QUEUE": place.queue,
            "JOBQUEUE_API_GRPC": "",
            "JOBQUEUE_SQLITE_LEASE_S": str(lease_s),
            "JOBQUEUE_LOG_LEVEL": "DEBUG",  # the per-job lines the tests wait for
        }
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "jobqueue", "worker", *args),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def wait_for(self, text: str, timeout_s: float = WAIT_S) -> None:
        """Read the log until a line contains ``text``."""
        async with asyncio.timeout(timeout_s):
            while not any(text in line for line in self.lines):
                if not await self._read_line():
                    raise AssertionError(f"exited without logging {text!r}:\n{self.log}")

    async def exit_code(self, timeout_s: float = WAIT_S) -> int:
        """Read the log to its end and wait for the process to exit."""
        async with asyncio.timeout(timeout_s):
            while await self._read_line():
                pass
            return await self.process.wait()

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def _read_line(self) -> bool:
        assert self.process.stderr is not None
        line = await self.process.stderr.readline()
        if line:
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
        return bool(line)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
async def processes() -> AsyncIterator[list[WorkerProcess]]:
    """Worker processes to be killed after the test, whatever happened."""
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        await process.kill()


async def spawn(processes: list[WorkerProcess], place: Place, *args: str) -> WorkerProcess:
    process = await WorkerProcess.start(place, *args)
    processes.append(process)
    return process


@BOTH_BACKENDS
async def test_a_worker_killed_mid_job_leaves_the_job_to_the_next_worker(
    place: Place, broker: Broker, processes: list[WorkerProcess]
) -> None:
    job = Job("sleep", {"seconds": 0.5})
    await broker.publish([job])
    first = await spawn(processes, place, "--concurrency", "1")
    await first.wait_for(f"processing job {job.id}")

    first.send(signal.SIGKILL)
    assert await first.exit_code() == -signal.SIGKILL
    second = await spawn(processes, place, "--concurrency", "1")
    await second.wait_for(f"job {job.id} succeeded")
    second.send(signal.SIGTERM)

    assert await second.exit_code() == 0
    assert await broker.depth() == EMPTY


@BOTH_BACKENDS
async def test_sigterm_lets_the_job_in_flight_finish_then_exits_0(
    place: Place, broker: Broker, processes: list[WorkerProcess]
) -> None:
    job = Job("sleep", {"seconds": 0.5})
    await broker.publish([job])
    worker = await spawn(processes, place, "--grace-s", "60")
    await worker.wait_for(f"processing job {job.id}")

    worker.send(signal.SIGTERM)

    assert await worker.exit_code() == 0
    assert f"job {job.id} succeeded" in worker.log
    assert await broker.depth() == EMPTY


@BOTH_BACKENDS
async def test_sigterm_hands_back_a_job_still_running_after_the_grace_period(
    place: Place, broker: Broker, processes: list[WorkerProcess]
) -> None:
    job = Job("sleep", {"seconds": 600})
    await broker.publish([job])
    worker = await spawn(processes, place, "--grace-s", "0.2")
    await worker.wait_for(f"processing job {job.id}")

    worker.send(signal.SIGTERM)

    assert await worker.exit_code() == 0
    assert f"job {job.id} handed back" in worker.log
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)


@BOTH_BACKENDS
async def test_a_second_signal_hands_back_at_once(
    place: Place, broker: Broker, processes: list[WorkerProcess]
) -> None:
    job = Job("sleep", {"seconds": 600})
    await broker.publish([job])
    worker = await spawn(processes, place, "--grace-s", "600")
    await worker.wait_for(f"processing job {job.id}")

    worker.send(signal.SIGTERM)
    await worker.wait_for("stopping")
    worker.send(signal.SIGINT)

    assert await worker.exit_code() == 0
    assert f"job {job.id} handed back" in worker.log
    assert await broker.depth() == QueueDepth(ready=1, delayed=0, dead=0)


@BOTH_BACKENDS
async def test_a_burst_worker_runs_the_queue_empty_and_exits_0(
    place: Place, broker: Broker, processes: list[WorkerProcess]
) -> None:
    jobs = [Job("flaky", {"fail_times": 1}), Job("email", {"to": "a@b.c", "subject": "Hi"})]
    await broker.publish([*jobs, Job("fail", None)])
    worker = await spawn(processes, place, "--burst", "--retry-base-s", "0.05")

    assert await worker.exit_code() == 0
    assert all(f"job {job.id} succeeded" in worker.log for job in jobs)
    assert "sending email to a@b.c: Hi" in worker.log
    assert await broker.depth() == QueueDepth(ready=0, delayed=0, dead=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "concurrency must be at least 1"),
        (["--app", "no.such.module:handlers"], "cannot import"),
        (["--retry-base-s", "5", "--retry-cap-s", "1"], "retry cap"),
        (["--api-grpc", "nowhere"], "must be host:port"),
        (["--log-level", "LOUD"], "log level"),
        (["--broker-url", "amqp://u:secret@h:1/", "--grace-s", "-1"], "grace"),
    ],
)
async def test_bad_settings_exit_1_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'broker.db'}"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "jobqueue", "worker", "--broker-url", url, *args),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(WAIT_S):
        _, stderr = await process.communicate()

    errors = [line for line in stderr.decode().splitlines() if line.startswith("error: ")]
    assert process.returncode == 1
    assert len(errors) == 1
    assert message in errors[0]
    assert "secret" not in stderr.decode()
