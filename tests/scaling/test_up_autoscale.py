"""``jobqueue up --workers 1:4`` as real processes on the embedded broker: a burst of slow jobs
grows it to 4 workers, an idle queue shrinks it back to 1; every job runs exactly once and no
worker is stopped in the middle of one. Bad ``--workers`` values are one line, exit 1."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import free_port
from tests.test_up import addrs_argv, banner, poll, running, up_env

pytestmark = pytest.mark.timeout(120)

JOBS = 40
JOB_S = 1.5
RETIRED = re.compile(r"retired (worker-\d+): (.+?) after draining")


def live_workers(base: str) -> int:
    """Workers the API lists that are not drained."""
    listing = httpx.get(f"{base}/workers", timeout=2.0).json()["workers"]
    return sum(1 for worker in listing if worker["state"] != "drained")


@pytest.fixture
def autoscaled(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """``jobqueue up --workers 1:4`` (concurrency 2) deciding every 0.5 s with a 3 s
    cool-down; its process, base URL and log."""
    http, grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    argv = [
        *(sys.executable, "-m", "jobqueue", "up", "--workers", "1:4", "--concurrency", "2"),
        *addrs_argv(http, grpc),
        *("--broker-url", "sqlite:///jq.db", "--app", "tests.scaling.handlers:handlers"),
    ]
    env = up_env(JOBQUEUE_SCALE_INTERVAL_S="0.5", JOBQUEUE_SCALE_COOLDOWN_S="3")
    log_path = tmp_path / "up.log"
    with running(argv, tmp_path, env, log_path) as process:
        yield process, f"http://{http}", log_path


@pytest.mark.slow
def test_a_burst_grows_up_to_four_workers_and_idleness_shrinks_it_to_one_running_each_job_once(
    autoscaled: tuple[subprocess.Popen[str], str, Path], tmp_path: Path
) -> None:
    process, base, log_path = autoscaled
    assert "workers   1-4 (autoscaled) processes x 2 concurrent jobs" in banner(process)
    poll(lambda: live_workers(base) == 1)
    runs = tmp_path / "runs.txt"
    jobs = [{"type": "slow", "payload": {"s": JOB_S, "runs": str(runs)}}] * JOBS

    submitted_at = time.monotonic()
    answer = httpx.post(f"{base}/jobs/batch", json={"jobs": jobs}, timeout=10.0)
    assert answer.status_code == 202, answer.text
    ids = {job["id"] for job in answer.json()["jobs"]}
    poll(lambda: live_workers(base) == 4, timeout_s=40)
    grown_s = time.monotonic() - submitted_at

    poll(lambda: runs.exists() and runs.read_text().count("end ") == JOBS, timeout_s=60)
    idle_at = time.monotonic()
    drained_s = idle_at - submitted_at
    poll(lambda: len(RETIRED.findall(log_path.read_text())) == 3, timeout_s=40)
    shrunk_s = time.monotonic() - idle_at
    poll(lambda: live_workers(base) == 1, timeout_s=20)

    lines = [line.split() for line in runs.read_text().splitlines()]
    starts = Counter(job_id for phase, job_id, _, _ in lines if phase == "start")
    ends = Counter(job_id for phase, job_id, _, _ in lines if phase == "end")
    log = log_path.read_text()
    print(
        f"\nautoscaling 1:4: grew to 4 in {grown_s:.1f}s, the burst ran in {drained_s:.1f}s, "
        f"shrank to 1 in {shrunk_s:.1f}s after the last job; {sum(ends.values())} runs of "
        f"{JOBS} jobs, "
        f"{sum(n - 1 for n in starts.values())} duplicates"
    )
    assert set(starts) == set(ends) == ids  # none missing, none foreign
    assert set(starts.values()) == set(ends.values()) == {1}  # none twice, none cut short
    assert {attempt for *_, attempt in lines} == {"0"}  # no job was delivered a second time
    assert len({pid for _, _, pid, _ in lines}) >= 2  # the added workers ran jobs too
    assert "scaling 1 -> 4 workers: desired 4 (backlog; held at max 4); depth=" in log
    assert [code for _, code in RETIRED.findall(log)] == ["exited with code 0"] * 3
    assert "restarting it" not in log
    assert "handing back" not in log  # no worker cut a job short at its grace's end
    assert "handed back" not in log
    for job_id in list(ids)[:5]:
        record = httpx.get(f"{base}/jobs/{job_id}", timeout=2.0).json()
        assert (record["state"], record["attempts"]) == ("succeeded", 1)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("4:2", "error: --workers '4:2': MIN is above MAX"),
        ("0:0", "error: --workers '0:0': MAX must be 1 to 64"),
        (
            "a:b",
            "error: --workers must be a count (3) or MIN:MAX (2:8) of whole numbers, got 'a:b'",
        ),
    ],
)
@pytest.mark.parametrize("where", ["flag", "environment"])
def test_bad_worker_bounds_are_one_line_exit_1_and_start_nothing(
    tmp_path: Path, value: str, message: str, where: str
) -> None:
    argv = [sys.executable, "-m", "jobqueue", "up"]
    env = up_env()
    if where == "flag":
        argv += ["--workers", value]
    else:
        env["JOBQUEUE_WORKERS"] = value

    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [message]
    assert not list(tmp_path.iterdir())
