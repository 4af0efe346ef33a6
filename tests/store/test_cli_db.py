"""``jobqueue db upgrade`` and ``jobqueue db current`` on real SQLite files, and their errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from jobqueue.cli import app
from jobqueue.errors import ConfigError, StoreUnavailable
from jobqueue.store.migrate import head_revision

UNREACHABLE = "postgresql://jq:s3cret@127.0.0.1:1/jobs"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, BaseException | None]:
    """Run ``jobqueue db ARGS`` in-process."""
    result = CliRunner().invoke(app, ["db", *args], env=env or {})
    return result.exit_code, result.output, result.exception


def tables(path: Path) -> set[str]:
    """The table names in a SQLite file."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_current_on_a_new_file_says_there_is_no_schema(tmp_path: Path) -> None:
    code, output, _ = run("current", "--store-url", f"sqlite:///{tmp_path / 'new.db'}")
    assert code == 0
    assert "no schema yet" in output
    assert "jobqueue db upgrade" in output


def test_upgrade_creates_the_schema_and_running_it_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    code, output, _ = run("upgrade", "--store-url", url)
    assert code == 0
    assert f"revision {head_revision()}" in output
    assert {"store_jobs", "store_events", "store_idempotency_keys"} <= tables(path)
    assert run("upgrade", "--store-url", url)[:2] == (0, output)
    code, output, _ = run("current", "--store-url", url)
    assert code == 0
    assert f"revision {head_revision()} (the newest)" in output


def test_the_store_defaults_to_a_file_beside_the_embedded_broker(tmp_path: Path) -> None:
    path = tmp_path / "jobqueue.db"
    code, _, _ = run("upgrade", env={"JOBQUEUE_BROKER_URL": f"sqlite:///{path}"})
    assert code == 0
    assert "store_jobs" in tables(tmp_path / "jobqueue-state.db")


def test_the_store_url_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.db"
    code, _, _ = run("upgrade", env={"JOBQUEUE_STORE_URL": f"sqlite:///{path}"})
    assert code == 0
    assert "store_jobs" in tables(path)


def test_an_unsupported_url_is_a_config_error() -> None:
    code, _, error = run("upgrade", "--store-url", "mysql://root:pw@localhost/db")
    assert code == 1
    assert isinstance(error, ConfigError)
    assert "pw" not in str(error)


def test_an_unreachable_store_fails_without_showing_its_password() -> None:
    code, _, error = run("current", "--store-url", UNREACHABLE)
    assert code == 1
    assert isinstance(error, StoreUnavailable)
    assert "s3cret" not in str(error)
    assert "jq:***@127.0.0.1:1" in str(error)


def test_the_command_line_prints_one_line_and_exits_1_when_the_store_is_down() -> None:
    script = "from jobqueue.cli import main; main()"
    completed = subprocess.run(
        [sys.executable, "-c", script, "db", "upgrade", "--store-url", UNREACHABLE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.startswith("error: store postgresql://jq:***@127.0.0.1:1/jobs")
    assert completed.stderr.count("\n") == 1
    assert "s3cret" not in completed.stderr + completed.stdout
