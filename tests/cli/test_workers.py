"""`jobqueue workers`: the fleet table and the pause, resume, drain commands, over a real API."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from jobqueue.api.errors import install_error_handlers
from jobqueue.api.workers import workers_router
from jobqueue.cli import app, main
from jobqueue.cli import workers as workers_command
from jobqueue.cli.workers import workers_table
from jobqueue.registry import Command, WorkerReport, WorkerState
from jobqueue.registry.memory import InMemoryRegistry
from tests.services import free_port

REPORT = WorkerReport(
    load=2,
    concurrency=8,
    job_types=("email", "resize"),
    queue="jobs",
    host="node-1",
    pid=321,
    version="1.0",
    started_at_unix=time.time() - 3700,
    processed=40,
    failed=3,
    state=WorkerState.PAUSED,
)


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry()


@pytest.fixture
def api_url(registry: InMemoryRegistry) -> Iterator[str]:
    """A real HTTP server with the /workers routes, in a thread."""
    api = FastAPI()
    install_error_handlers(api)
    api.include_router(workers_router(registry))
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


def _register(registry: InMemoryRegistry, worker_id: str, report: WorkerReport) -> None:
    asyncio.run(registry.register(worker_id, report))


def test_workers_prints_a_table_of_the_fleet(api_url: str, registry: InMemoryRegistry) -> None:
    _register(registry, "worker-a", REPORT)
    _register(registry, "go-worker", WorkerReport(load=1))
    result = CliRunner().invoke(app, ["workers", "--api-url", api_url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2 live workers" in result.output
    row = next(line for line in result.output.splitlines() if "worker-a" in line)
    for cell in ("paused", "2/8", "jobs", "email, resize", "node-1:321", "1.0", "40", "1h0"):
        assert cell in row, cell
    assert "go-worker" in result.output


def test_workers_json_prints_one_object_per_worker(
    api_url: str, registry: InMemoryRegistry
) -> None:
    _register(registry, "worker-a", REPORT)
    result = CliRunner().invoke(app, ["workers", "--json"], env={"JOBQUEUE_API_URL": api_url})
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    worker = json.loads(line)
    assert (worker["worker_id"], worker["state"], worker["load"]) == ("worker-a", "paused", 2)


@pytest.mark.parametrize("command", list(Command))
def test_a_command_is_left_for_the_worker(
    api_url: str, registry: InMemoryRegistry, command: Command
) -> None:
    _register(registry, "worker a?#%", REPORT)
    argv = ["workers", str(command), "worker a?#%", "--api-url", api_url]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert f"{command} sent to worker a?#%" in result.output
    assert asyncio.run(registry.heartbeat("worker a?#%", REPORT)).command is command


def test_the_group_api_url_option_reaches_the_command(
    api_url: str, registry: InMemoryRegistry
) -> None:
    _register(registry, "worker-a", REPORT)
    result = CliRunner().invoke(app, ["workers", "--api-url", api_url, "drain", "worker-a"])
    assert result.exit_code == 0, result.output
    assert asyncio.run(registry.heartbeat("worker-a", REPORT)).command is Command.DRAIN


def _jobqueue(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    """Run the console script's entry point in process: its exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["jobqueue", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


def test_a_command_for_an_unknown_worker_is_one_line_and_exit_1(
    api_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = _jobqueue(capsys, monkeypatch, "workers", "pause", "nobody", "--api-url", api_url)
    assert code == 1
    assert err.splitlines() == ["error: no live worker with id 'nobody'"]


def test_an_unreachable_api_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, err = _jobqueue(capsys, monkeypatch, "workers", "--api-url", url)
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(f"error: cannot reach the API at {url}: ")


def test_the_table_says_so_when_no_worker_is_live() -> None:
    assert workers_table([], 80).title == "0 live workers"


def _workers_output(api_url: str, columns: int) -> list[str]:
    result = CliRunner().invoke(
        app, ["workers", "--api-url", api_url], env={"COLUMNS": str(columns)}
    )
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_at_80_columns_the_table_keeps_whole_ids_and_headers_and_fits(
    api_url: str, registry: InMemoryRegistry
) -> None:
    worker_ids = [str(uuid.uuid4()) for _ in range(3)]
    for worker_id in worker_ids:
        _register(registry, worker_id, REPORT)

    lines = _workers_output(api_url, 80)

    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("ID"))
    assert header.split() == ["ID", "STATE", "LOAD", "JOB", "TYPES", "SEEN"]
    for worker_id in worker_ids:
        row = next(line for line in lines if line.startswith(worker_id))
        assert row.split()[1:3] == ["paused", "2/8"]
    assert "…" not in "".join(lines[:3])


def test_at_200_columns_the_table_shows_every_column(
    api_url: str, registry: InMemoryRegistry
) -> None:
    worker_id = str(uuid.uuid4())
    _register(registry, worker_id, REPORT)

    lines = _workers_output(api_url, 200)

    header = next(line for line in lines if line.startswith("ID"))
    for column in ("STATE", "LOAD", "QUEUE", "JOB TYPES", "HOST", "VERSION", "DONE", "FAILED"):
        assert column in header, column
    row = next(line for line in lines if line.startswith(worker_id))
    assert "email, resize" in row
    assert "node-1:321" in row
    assert "…" not in row


def test_what_a_worker_sent_is_shown_literally_never_as_markup_or_escapes(
    api_url: str, registry: InMemoryRegistry
) -> None:
    report = dataclasses.replace(
        REPORT, host="[red]evil\x1b]0;title\x07", job_types=("\x1b[2Jwipe",)
    )
    _register(registry, "[red]x", report)

    for columns in (80, 200):
        output = "\n".join(_workers_output(api_url, columns))

        assert "\x1b" not in output
        assert "\x07" not in output
        assert "[red]x" in output
    assert "[red]evil\\x1b]0;title\\x07" in output
    assert "\\x1b[2Jwipe" in output


def test_the_title_counts_drained_workers_apart_from_live_ones(
    api_url: str, registry: InMemoryRegistry
) -> None:
    _register(registry, "worker-a", REPORT)
    _register(registry, "worker-b", REPORT)
    asyncio.run(registry.deregister("worker-b", drained=True))
    result = CliRunner().invoke(app, ["workers", "--api-url", api_url], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "1 live worker, 1 drained" in result.output


def test_workers_lists_every_worker_across_pages(
    api_url: str, registry: InMemoryRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers_command, "PAGE_WORKERS", 2)
    ids = [f"worker-{n}" for n in range(5)]
    for worker_id in ids:
        _register(registry, worker_id, REPORT)
    result = CliRunner().invoke(app, ["workers", "--json", "--api-url", api_url])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["worker_id"] for line in result.output.splitlines()] == ids
