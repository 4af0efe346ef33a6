"""``jobqueue db current`` only reads: a store file that is not there is not created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 60.0


def _jobqueue(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobqueue", *args],
        cwd=cwd,
        env={name: value for name, value in os.environ.items() if not name.startswith("JOBQUEUE_")},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_current_of_a_store_that_is_not_there_says_so_and_creates_no_file(tmp_path: Path) -> None:
    done = _jobqueue(tmp_path, "db", "current", "--store-url", "sqlite:///state.db")

    assert done.returncode == 0, done.stderr
    assert f"no file at {tmp_path / 'state.db'}" in done.stdout
    assert "jobqueue db upgrade" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_current_beside_the_default_broker_creates_no_file(tmp_path: Path) -> None:
    done = _jobqueue(tmp_path, "db", "current")

    assert done.returncode == 0, done.stderr
    assert "no schema yet" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_current_after_upgrade_reads_the_existing_file(tmp_path: Path) -> None:
    assert _jobqueue(tmp_path, "db", "upgrade").returncode == 0

    done = _jobqueue(tmp_path, "db", "current")

    assert done.returncode == 0, done.stderr
    assert "(the newest)" in done.stdout
