"""`jobqueue schedules`: add, list, next, pause, resume, run-now and remove over a real API, and
bad input as one line with exit code 1."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from jobqueue.api.errors import install_error_handlers
from jobqueue.cli import app, main
from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.routes import schedules_router
from jobqueue.store import from_url
from jobqueue.store.sql import SqlStore
from tests.services import free_port


async def _opened(url: str) -> SqlStore:
    store = from_url(url)
    assert isinstance(store, SqlStore)
    await store.connect()
    await store.upgrade()
    return store


@pytest.fixture
def api_url(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server with the /schedules routes over a SQLite store, in a thread."""
    store = asyncio.run(_opened(f"sqlite:///{tmp_path / 'state.db'}"))
    api = FastAPI()
    install_error_handlers(api)
    api.include_router(schedules_router(ScheduleBook(store)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api, port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test API did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    asyncio.run(store.close())


def run(api_url: str, *args: str) -> str:
    result = CliRunner().invoke(app, ["schedules", *args, "--api-url", api_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_schedule_is_added_listed_paused_resumed_run_and_removed(api_url: str) -> None:
    added = run(
        api_url,
        "add",
        "nightly",
        "--cron",
        "30 2 * * *",
        "--job-type",
        "cleanup",
        "--tz",
        "Europe/Berlin",
        "--payload",
        '{"days": 30}',
    )
    assert added.startswith("schedule nightly added: next run ")
    [listed] = [json.loads(line) for line in run(api_url, "list", "--json").splitlines()]
    assert (listed["name"], listed["payload"], listed["tz"]) == (
        "nightly",
        {"days": 30},
        "Europe/Berlin",
    )
    assert "nightly" in run(api_url, "list")
    upcoming = run(api_url, "next", "nightly", "--count", "2").splitlines()
    assert len(upcoming) == 2
    assert "02:30:00+0" in upcoming[0]  # shown in the schedule's zone too
    assert run(api_url, "pause", "nightly") == "schedule nightly paused\n"
    assert "no next runs" in run(api_url, "next", "nightly")
    assert run(api_url, "resume", "nightly").startswith("schedule nightly resumed: next run ")
    assert "created" in run(api_url, "run-now", "nightly")
    assert run(api_url, "remove", "nightly") == "schedule nightly removed\n"
    assert run(api_url, "list", "--json") == ""


def _jobqueue(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["jobqueue", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--cron", "* * 99 * *"], "'* * 99 * *'"),
        (["--cron", "@daily", "--tz", "Nowhere/City"], "'Nowhere/City'"),
        (["--cron", "@daily", "--missed", "often"], "'skip', 'run_once'"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    api_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    named: str,
) -> None:
    argv = ["schedules", "add", "x", "--job-type", "t", *options, "--api-url", api_url]
    code, err = _jobqueue(capsys, monkeypatch, *argv)
    assert code == 1
    [line] = err.splitlines()
    assert named in line


def test_an_unknown_schedule_is_one_line_and_exit_1(
    api_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = _jobqueue(capsys, monkeypatch, "schedules", "pause", "ghost", "--api-url", api_url)
    assert code == 1
    assert err.splitlines() == ["error: no schedule named 'ghost'"]
