"""``jobqueue up`` and many processes on one SQLite file, as real processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.process import ROOT, start, stop, wait_ready
from tests.services import free_port

pytestmark = pytest.mark.timeout(180)

SETTLE_S = 60.0


def poll(check: Any, timeout_s: float = SETTLE_S, every_s: float = 0.2) -> Any:
    """Call ``check`` until it returns something true; that value, or fail at the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"condition not met within {timeout_s}s")


def get_json(url: str) -> Any:
    """GET a JSON document, or None while the server does not answer 200."""
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def succeeded(url: str) -> Any:
    """The job at ``url`` once it has succeeded, else None."""
    record = get_json(url)
    return record if record and record["state"] == "succeeded" else None


def alive(pid: int) -> bool:
    """Whether a process with this id still exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def up_argv(*more: str) -> list[str]:
    """The command line of ``jobqueue up`` with two workers, then ``more``."""
    return [sys.executable, "-m", "jobqueue", "up", "--workers", "2", "--concurrency", "2", *more]


def addrs_argv(http: str, grpc: str) -> list[str]:
    """The flags for these HTTP and gRPC addresses."""
    return ["--http-addr", http, "--grpc-addr", grpc]


def up_env(**settings: str) -> dict[str, str]:
    """The environment of ``jobqueue up`` in a test: quick heartbeats, no JOBQUEUE_* of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")}
    return {**env, "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.5", "PYTHONPATH": str(ROOT), **settings}


@pytest.fixture
def up_log(tmp_path: Path) -> Path:
    """Where the ``up`` fixture's process writes its log (its standard error)."""
    return tmp_path / "up.log"


@contextlib.contextmanager
def running(
    argv: list[str], cwd: Path, env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[str]]:
    """``argv`` started in ``cwd``, its standard error into ``log_path``; killed at the end if
    it is still running."""
    with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
def up(tmp_path: Path, up_log: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``jobqueue up --workers 2`` on a SQLite file in tmp_path; its process and base URL."""
    http, grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    argv = up_argv(*addrs_argv(http, grpc), "--broker-url", "sqlite:///jq.db")
    with running(argv, tmp_path, up_env(), up_log) as process:
        yield process, f"http://{http}"


def banner(process: subprocess.Popen[str]) -> str:
    """Read ``jobqueue up``'s standard output up to its last banner line."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Stop with Ctrl-C"):
            return "".join(lines)
    pytest.fail("jobqueue up ended without its banner:\n" + "".join(lines))


def test_up_serves_a_job_end_to_end_and_stops_every_process_on_sigterm(
    up: tuple[subprocess.Popen[str], str],
) -> None:
    process, base = up
    text = banner(process)
    assert f"HTTP API  {base}" in text
    assert "sqlite:///jq.db" in text

    submitted = httpx.post(f"{base}/jobs", json={"type": "echo", "payload": {"n": 2**70}})
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    done = poll(lambda: get_json(f"{base}/jobs/{job_id}?wait=5"))
    done = poll(
        lambda: (r := get_json(f"{base}/jobs/{job_id}")) and r["state"] == "succeeded" and r
    )
    assert done["result"] == {"n": 2**70}
    workers = poll(lambda: (r := get_json(f"{base}/workers")) and len(r["workers"]) == 2 and r)
    pids = [worker["pid"] for worker in workers["workers"]]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert not any(alive(pid) for pid in pids)
    assert get_json(f"{base}/healthz") is None


def test_up_restarts_a_worker_process_that_dies(up: tuple[subprocess.Popen[str], str]) -> None:
    process, base = up
    banner(process)
    first = poll(lambda: (r := get_json(f"{base}/workers")) and len(r["workers"]) == 2 and r)
    victim = first["workers"][0]["pid"]

    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        listing = get_json(f"{base}/workers") or {"workers": []}
        pids = {worker["pid"] for worker in listing["workers"]}
        return len(pids - {victim, first["workers"][1]["pid"]}) == 1

    poll(replaced)
    submitted = httpx.post(f"{base}/jobs", json={"type": "echo", "payload": {}})
    job_id = submitted.json()["id"]
    poll(lambda: succeeded(f"{base}/jobs/{job_id}"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a plain socket listens on for the length of the test."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("taken", ["http", "grpc"])
def test_up_on_a_taken_port_names_it_in_one_line_exits_1_and_starts_nothing(
    tmp_path: Path, taken_port: int, taken: str
) -> None:
    addrs = {"http": f"127.0.0.1:{free_port()}", "grpc": f"127.0.0.1:{free_port()}"}
    addrs[taken] = f"127.0.0.1:{taken_port}"
    argv = up_argv()
    env = up_env(JOBQUEUE_HTTP_ADDR=addrs["http"], JOBQUEUE_GRPC_ADDR=addrs["grpc"])

    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: port {taken_port} (--{taken}-addr 127.0.0.1:{taken_port}) is already in use, "
        f"probably by another jobqueue up; stop it or pass --{taken}-addr 127.0.0.1:PORT"
    ]
    assert not list(tmp_path.iterdir())  # no API started: no broker or store file either


def test_up_with_handlers_it_cannot_load_says_so_in_one_line_and_starts_nothing(
    tmp_path: Path,
) -> None:
    addrs = addrs_argv(f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")

    done = subprocess.run(
        up_argv(*addrs, "--app", "nomodule:handlers"),
        cwd=tmp_path,
        env=up_env(),
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: --app: cannot import 'nomodule': no module named 'nomodule' "
        f"(looked in the working directory {tmp_path} and the installed packages)"
    ]
    assert not list(tmp_path.iterdir())


def test_up_whose_api_keeps_exiting_at_start_stops_with_one_line(tmp_path: Path) -> None:
    addrs = addrs_argv(f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    argv = up_argv(*addrs, "--broker-url", "nosuch://broker")

    done = subprocess.run(
        argv, cwd=tmp_path, env=up_env(), capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert "error: unsupported broker URL 'nosuch://broker'" in done.stderr  # the API's reason
    assert done.stderr.splitlines()[-1] == (
        "error: the API exited with code 1 within 10s of starting, 3 times in a row; "
        "stopped everything (its log above says why)"
    )
    assert "jobqueue is up" not in done.stdout


def test_a_worker_drained_under_up_stays_down_while_the_api_and_the_other_worker_run_on(
    up: tuple[subprocess.Popen[str], str], up_log: Path
) -> None:
    process, base = up
    banner(process)
    listing = poll(lambda: (r := get_json(f"{base}/workers")) and len(r["workers"]) == 2 and r)
    drained, other = listing["workers"]
    jobqueue = [sys.executable, "-m", "jobqueue"]

    subprocess.run(
        [*jobqueue, "workers", "drain", drained["worker_id"], "--api-url", base],
        check=True,
        capture_output=True,
        timeout=30,
    )

    poll(lambda: not alive(drained["pid"]))
    poll(lambda: "not restarting it" in up_log.read_text())
    time.sleep(1.0)  # a restart would show up now
    log = up_log.read_text()
    assert "exited with code 0 on its own (drained or stopped); not restarting it" in log
    assert log.count("started worker-") == 2
    assert alive(other["pid"])
    submitted = httpx.post(f"{base}/jobs", json={"type": "echo", "payload": {}})
    poll(lambda: succeeded(f"{base}/jobs/{submitted.json()['id']}"))

    subprocess.run(
        [*jobqueue, "workers", "drain", other["worker_id"], "--api-url", base],
        check=True,
        capture_output=True,
        timeout=30,
    )
    poll(lambda: "every worker has exited on its own" in up_log.read_text())
    assert get_json(f"{base}/healthz") is not None
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


async def _submit(base_urls: list[str], count: int) -> list[str]:
    """Submit ``count`` jobs spread over the APIs, 16 at a time; the ids answered 202."""
    ids: list[str] = []
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=30.0) as client:

        async def one(n: int) -> None:
            async with gate:
                url = f"{base_urls[n % len(base_urls)]}/jobs"
                response = await client.post(url, json={"type": "record", "payload": {"n": n}})
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])

        await asyncio.gather(*(one(n) for n in range(count)))
    return ids


def test_two_apis_and_three_workers_on_one_sqlite_file_lose_nothing_and_run_nothing_twice(
    tmp_path: Path,
) -> None:
    done_file = tmp_path / "done.txt"
    env = {
        "JOBQUEUE_BROKER_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "JOBQUEUE_BENCH_DONE_FILE": str(done_file),
        "JOBQUEUE_LOG_LEVEL": "WARNING",
        "JOBQUEUE_API_GRPC": "",
    }
    apis, bases = [], []
    for n in range(2):
        http = f"127.0.0.1:{free_port()}"
        api_env = {**env, "JOBQUEUE_HTTP_ADDR": http, "JOBQUEUE_GRPC_ADDR": "127.0.0.1:0"}
        apis.append(start(["api"], api_env, tmp_path / f"api{n}.log"))
        bases.append(f"http://{http}")
    workers = [
        start(
            ["worker", "--app", "benchmarks.handlers:handlers", "--concurrency", "4"],
            env,
            tmp_path / f"worker{n}.log",
        )
        for n in range(3)
    ]
    try:
        for base in bases:
            wait_ready(base)
        ids = asyncio.run(_submit(bases, 600))

        poll(lambda: done_file.exists() and len(done_file.read_text().split()) >= len(ids))
        time.sleep(1.0)  # a job run twice would show up now
        ran = done_file.read_text().split()
    finally:
        codes = [stop(process) for process in [*workers, *apis]]
    assert len(set(ids)) == 600
    assert sorted(ran) == sorted(ids)
    assert codes == [0] * 5
