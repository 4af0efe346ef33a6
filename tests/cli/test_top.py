"""``jobqueue top``: one frame of a real API's figures, the live view quit with q, and a
one-line error for an API that cannot be reached."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from benchmarks.process import start, stop, wait_ready
from jobqueue.cli import app
from tests.services import free_port


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``jobqueue api`` on a SQLite file, with three jobs queued and no worker."""
    folder = tmp_path_factory.mktemp("top")
    base = f"http://127.0.0.1:{free_port()}"
    env = {
        "JOBQUEUE_BROKER_URL": f"sqlite:///{folder / 'jobqueue.db'}",
        "JOBQUEUE_HTTP_ADDR": base.removeprefix("http://"),
        "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{free_port()}",
    }
    process = start(["api"], env, folder / "api.log")
    try:
        wait_ready(base)
        for _ in range(3):
            body = {"type": "email", "payload": {}}
            assert httpx.post(f"{base}/jobs", json=body).status_code == 202
        yield base
    finally:
        stop(process)


def after(output: str, label: str) -> list[str]:
    """The table cells that follow the cell ``label`` on its row of the frame."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│")]
        if label in cells:
            return cells[cells.index(label) + 1 :]
    raise AssertionError(f"no cell {label!r} in:\n{output}")


def test_once_prints_the_figures(api_url: str) -> None:
    args = ["top", "--once", "--api-url", api_url]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    now, trend, total = after(result.output, "submitted")[:3]
    assert float(now) > 0
    assert trend.strip()
    assert total == "3"
    assert after(result.output, "ready")[0] == "3"
    assert after(result.output, "queued")[0] == "3"
    assert "0 workers" in result.output


def test_an_unreachable_api_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["top", "--once", "--api-url", url])
    assert result.exit_code == 1
    assert "cannot reach the API" in str(result.exception)


def test_the_live_view_quits_on_q(api_url: str, tmp_path: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: jobqueue top on the pseudo-terminal
        os.environ.update({"JOBQUEUE_API_URL": api_url, "COLUMNS": "160", "LINES": "50"})
        os.execv(sys.executable, [sys.executable, "-m", "jobqueue", "top", "--interval-s", "0.5"])
    screen = b""
    deadline = time.monotonic() + 20
    while b"submitted" not in screen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            screen += os.read(fd, 65536)
    assert b"submitted" in screen, screen[-2000:]
    os.write(fd, b"q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        if select.select([fd], [], [], 0.1)[0]:
            with contextlib.suppress(OSError):  # EIO once the child has closed its end
                os.read(fd, 65536)
    os.kill(pid, 9)
    pytest.fail("jobqueue top did not quit on q")
