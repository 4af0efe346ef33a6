"""`jobqueue submit`, `jobqueue status` and `jobqueue jobs` against a real API and worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jobqueue.cli import app, main
from tests.services import free_port

START_TIMEOUT_S = 30.0
WIDE = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jobqueue api`` and one ``jobqueue worker`` (the demo handlers) on a SQLite file."""
    folder = tmp_path_factory.mktemp("cli-status")
    http, grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "JOBQUEUE_BROKER_URL": f"sqlite:///{folder / 'jobqueue.db'}",
        "JOBQUEUE_HTTP_ADDR": http,
        "JOBQUEUE_GRPC_ADDR": grpc,
        "JOBQUEUE_API_GRPC": grpc,
        "JOBQUEUE_HEARTBEAT_INTERVAL_S": "0.2",
        "JOBQUEUE_RETRY_BASE_S": "0.01",
    }
    processes = [_start(folder, "api", env)]
    _wait_ready(f"http://{http}", processes[0], folder)
    processes.append(_start(folder, "worker", env))
    yield f"http://{http}"
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def _start(folder: Path, command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (folder / f"{command}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jobqueue", command], env=env, stdout=log, stderr=log
        )


def _wait_ready(url: str, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the API did not start:\n{(folder / 'api.log').read_text()}")


def _cli(*args: str, api_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--api-url", api_url], env=WIDE)
    return result.exit_code, result.output


def test_submit_wait_follows_a_job_to_success(api_url: str) -> None:
    code, output = _cli("submit", "echo", '{"hello": [1, 2]}', "--wait", api_url=api_url)

    assert code == 0, output
    assert "succeeded" in output
    assert '{"hello": [1, 2]}' in output


def test_submit_wait_exits_1_when_the_job_dies(api_url: str) -> None:
    code, output = _cli("submit", "fail", "--max-attempts", "2", "--wait", api_url=api_url)

    assert code == 1
    assert "dead" in output
    assert "RuntimeError: this job always fails" in output


def test_submit_without_wait_prints_the_job_and_status_shows_it(api_url: str) -> None:
    code, output = _cli("submit", "echo", "[1]", api_url=api_url)
    job_id = json.loads(output)["id"]
    assert code == 0

    code, output = _cli("status", job_id, "--wait", "30", "--json", api_url=api_url)
    job = json.loads(output)
    code_table, table = _cli("status", job_id, api_url=api_url)

    assert code == code_table == 0
    assert (job["id"], job["state"], job["result"]) == (job_id, "succeeded", [1])
    assert job_id in table
    assert "succeeded" in table


def test_submit_with_an_idempotency_key_twice_makes_one_job(api_url: str) -> None:
    first = _cli("submit", "echo", '{"n": 1}', "--idempotency-key", "cli-1", api_url=api_url)
    again = _cli("submit", "echo", '{"n": 1}', "--idempotency-key", "cli-1", api_url=api_url)

    assert first[0] == again[0] == 0
    assert json.loads(first[1])["id"] == json.loads(again[1])["id"]


def test_submit_with_a_priority_and_status_shows_it(api_url: str) -> None:
    code, output = _cli("submit", "echo", "[2]", "--priority", "6", api_url=api_url)
    submitted = json.loads(output)
    code_table, table = _cli("status", submitted["id"], "--wait", "30", api_url=api_url)

    assert code == code_table == 0
    assert submitted["priority"] == 6
    assert [line.split() for line in table.splitlines() if "priority" in line] == [
        ["priority", "6"]
    ]


def test_submit_with_a_delay_shows_it_scheduled_until_its_run_at(api_url: str) -> None:
    code, output = _cli("submit", "echo", "[3]", "--delay-s", "3600", api_url=api_url)
    submitted = json.loads(output)
    code_table, table = _cli("status", submitted["id"], api_url=api_url)

    assert code == code_table == 0
    assert submitted["run_at"] > submitted["created_at"]
    rows = {line.split()[0]: line.split()[-1] for line in table.splitlines() if line.strip()}
    assert rows["state"] == "scheduled"
    assert rows["run"].startswith(submitted["run_at"][:16])


def test_jobs_lists_the_dead_ones(api_url: str) -> None:
    code, output = _cli("submit", "fail", "--max-attempts", "1", "--wait", api_url=api_url)
    assert code == 1

    code, output = _cli("jobs", "--state", "dead", "--json", api_url=api_url)
    code_table, table = _cli("jobs", "--state", "dead", "--type", "fail", api_url=api_url)

    assert code == code_table == 0
    jobs = [json.loads(line) for line in output.splitlines()]
    assert jobs
    assert {job["state"] for job in jobs} == {"dead"}
    assert jobs[0]["id"] in table
    assert "RuntimeError" in table


def test_an_unknown_job_is_one_line_and_exit_1(
    api_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["jobqueue", "status", "no-such-job", "--api-url", api_url])
    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines() == ["error: no job with id 'no-such-job'"]


def test_a_payload_that_is_not_json_is_refused_before_any_request(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(sys, "argv", ["jobqueue", "submit", "echo", "{oops", "--api-url", url])
    with pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: the payload is not valid JSON")


def _cli_at(columns: int, *args: str, api_url: str) -> list[str]:
    env = {"COLUMNS": str(columns)}
    result = CliRunner().invoke(app, [*args, "--api-url", api_url], env=env)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _dead_job_ids(api_url: str) -> list[str]:
    _cli("submit", "fail", "--max-attempts", "1", "--wait", api_url=api_url)
    code, output = _cli("jobs", "--state", "dead", "--type", "fail", "--json", api_url=api_url)
    assert code == 0
    return [json.loads(line)["id"] for line in output.splitlines()]


def test_jobs_at_80_columns_fits_with_whole_ids_and_the_error_cut_at_its_end(
    api_url: str,
) -> None:
    job_ids = _dead_job_ids(api_url)

    lines = _cli_at(80, "jobs", "--state", "dead", "--type", "fail", api_url=api_url)

    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("ID"))
    assert header.split() == ["ID", "TYPE", "STATE", "RESULT", "/", "ERROR"]
    for job_id in job_ids:
        row = next(line for line in lines if line.startswith(job_id))
        cells = row.split(maxsplit=3)
        assert cells[1:3] == ["fail", "dead"]
        assert "RuntimeError: this job always fails".startswith(cells[3].rstrip("…"))


def test_jobs_at_200_columns_shows_every_column_and_the_whole_error(api_url: str) -> None:
    job_ids = _dead_job_ids(api_url)

    lines = _cli_at(200, "jobs", "--state", "dead", "--type", "fail", api_url=api_url)

    header = next(line for line in lines if line.startswith("ID"))
    assert header.split() == [
        "ID",
        "TYPE",
        "STATE",
        "TRIES",
        "CREATED",
        "FINISHED",
        "RESULT",
        "/",
        "ERROR",
    ]
    row = next(line for line in lines if line.startswith(job_ids[0]))
    assert row.rstrip().endswith("RuntimeError: this job always fails")


def test_a_result_with_control_characters_is_escaped_in_tables_and_json(api_url: str) -> None:
    payload = {"s": "\u009b31m[red]x\u001b[2J\u202e"}
    code, output = _cli("submit", "echo", json.dumps(payload), "--wait", api_url=api_url)
    assert code == 0, output
    job_id = next(line.split()[1] for line in output.splitlines() if line.startswith("id"))

    code, as_json = _cli("status", job_id, "--json", api_url=api_url)
    table = "\n".join(_cli_at(200, "status", job_id, api_url=api_url))
    listing = "\n".join(_cli_at(200, "jobs", "--type", "echo", api_url=api_url))

    for shown in (output, as_json, table, listing):
        assert not {"\u009b", "\u001b", "\u202e"} & set(shown)
    assert "[red]x" in table
    assert "[red]x" in listing
    assert json.loads(as_json)["result"] == payload
