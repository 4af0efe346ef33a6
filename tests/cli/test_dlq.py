"""``jobqueue dlq`` through a real API, and directly on a real SQLite file with --broker-url.

List, show, replay, purge; tables at 80 and 200 columns; what was sent shown literally; and
the one-line errors of an unknown id, an unreachable API, a broker file that is not there.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from jobqueue.brokers import Broker, Death, from_url
from jobqueue.cli import app
from jobqueue.errors import ConfigError, NotFound
from jobqueue.job import Job
from tests.services import free_port

TIMEOUT_S = 30.0
BIG = 123456789012345678901234567890
LONG_ERROR = (
    "ConnectionRefusedError: the mail server at smtp.example.com:587 refused the connection"
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    """The URL of a SQLite broker, its file made, in the test's own directory."""
    url = f"sqlite:///{tmp_path / 'jobqueue.db'}"
    depth(url)
    return url


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A ``jobqueue api`` process on a SQLite file: (its URL, the broker's URL)."""
    folder = tmp_path_factory.mktemp("cli-dlq")
    broker_url = f"sqlite:///{folder / 'jobqueue.db'}"
    http = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "JOBQUEUE_BROKER_URL": broker_url,
        "JOBQUEUE_HTTP_ADDR": http,
        "JOBQUEUE_GRPC_ADDR": f"127.0.0.1:{free_port()}",
    }
    with (folder / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobqueue", "api"], env=env, stdout=log, stderr=log
        )
    _wait_ready(f"http://{http}", process, folder)
    yield f"http://{http}", broker_url
    process.terminate()
    process.wait(timeout=TIMEOUT_S)


def _wait_ready(url: str, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the API did not start:\n{(folder / 'api.log').read_text()}")


@pytest.fixture
def api_url(api: tuple[str, str]) -> str:
    """The API's URL, its dead-letter queue empty at the start of the test."""
    httpx.delete(f"{api[0]}/dlq", timeout=TIMEOUT_S).raise_for_status()
    return api[0]


@pytest.fixture
def api_broker(api: tuple[str, str], api_url: str) -> str:
    """The URL of the API's broker, to make dead jobs and count them."""
    return api[1]


def run(url: str, *args: str, input: str | None = None) -> tuple[int, str, BaseException | None]:
    """Run ``jobqueue dlq ARGS`` in-process on the broker at ``url`` directly."""
    return run_on(["--broker-url", url], *args, input=input)


def run_api(api_url: str, *args: str, columns: int = 160) -> tuple[int, str, BaseException | None]:
    """Run ``jobqueue dlq ARGS`` in-process through the API (its URL from the environment)."""
    env = {"JOBQUEUE_API_URL": api_url}
    return run_on([], *args, env=env, columns=columns)


def run_on(
    where: list[str],
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    columns: int = 160,
) -> tuple[int, str, BaseException | None]:
    env = {**(env or {}), "COLUMNS": str(columns)}
    result = CliRunner().invoke(app, ["dlq", *args, *where], input=input, env=env)
    return result.exit_code, result.output, result.exception


def jobqueue(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``jobqueue ARGS`` as its own process in ``cwd``, no JOBQUEUE_* settings but ``env``."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("JOBQUEUE_")}
    return subprocess.run(
        [sys.executable, "-m", "jobqueue", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def on_broker(url: str, action: object) -> object:
    """Run ``action(broker)`` on a connected broker at ``url``, from synchronous test code."""

    async def main() -> object:
        broker = from_url(url)
        await broker.connect()
        try:
            return await action(broker)  # type: ignore[operator]
        finally:
            await broker.close()

    return asyncio.run(main())


def make_dead(url: str, jobs: list[Job], error: str = "SMTP said no\nline two") -> None:
    """Publish ``jobs`` and dead-letter every one of them with ``error``."""

    async def kill(broker: Broker) -> None:
        await broker.publish(jobs)
        stream = aiter(broker.deliveries(prefetch=len(jobs)))
        async with asyncio.timeout(TIMEOUT_S):
            for _ in jobs:
                delivery = await anext(stream)
                death = Death(
                    reason="max_attempts",
                    error=error,
                    traceback="Traceback (most recent call last):\n  File ...\n" + error,
                    attempts=3,
                    worker_id=str(uuid.uuid4()),
                )
                await broker.dead_letter(delivery, death)
        await broker.stop_consuming()

    on_broker(url, kill)


def depth(url: str) -> tuple[int, int]:
    """(ready, dead) message counts."""

    async def counts(broker: Broker) -> tuple[int, int]:
        depth = await broker.depth()
        return depth.ready, depth.dead

    result = on_broker(url, counts)
    assert isinstance(result, tuple)
    return result


def test_directly_list_of_an_empty_queue_says_so(url: str) -> None:
    code, output, _ = run(url, "list")

    assert code == 0
    assert "the dead-letter queue is empty" in output


def test_directly_list_shows_a_table_of_dead_jobs(url: str) -> None:
    jobs = [Job(type="email", payload={}), Job(type="resize", payload={})]
    make_dead(url, jobs)

    code, output, _ = run(url, "list")

    assert code == 0
    for text in (jobs[0].id, jobs[1].id, "email", "resize", "max_attempts", "SMTP said no"):
        assert text in output
    assert "line two" not in output


def test_directly_list_as_json_gives_one_exact_object_per_line(url: str) -> None:
    job = Job(type="email", payload={"n": BIG, "f": 0.1})
    make_dead(url, [job])

    code, output, _ = run(url, "list", "--json")

    assert code == 0
    [line] = output.splitlines()
    item = json.loads(line)
    assert (item["id"], item["type"], item["reason"]) == (job.id, "email", "max_attempts")
    assert item["payload"] == {"n": BIG, "f": 0.1}


def test_directly_list_limit_caps_the_rows(url: str) -> None:
    make_dead(url, [Job(type="t", payload=i) for i in range(3)])

    _, output, _ = run(url, "list", "--json", "--limit", "2")

    assert len(output.splitlines()) == 2


def test_directly_show_json_prints_the_dead_job_as_one_object_on_one_line(url: str) -> None:
    job = Job(type="email", payload={"n": BIG})
    make_dead(url, [job])

    code, output, _ = run(url, "show", job.id, "--json")

    assert len(output.splitlines()) == 1

    assert code == 0
    detail = json.loads(output)
    assert detail["job"]["id"] == job.id
    assert detail["payload"] == {"n": BIG}
    assert detail["error"] == "SMTP said no\nline two"


def test_directly_show_of_an_unknown_id_is_not_found(url: str) -> None:
    code, _, exception = run(url, "show", "nope")

    assert code == 1
    assert isinstance(exception, NotFound)
    assert "nope" in str(exception)


def test_directly_replay_queues_the_job_again(url: str) -> None:
    job = Job(type="email", payload={})
    make_dead(url, [job])

    code, output, _ = run(url, "replay", job.id)

    assert code == 0
    assert job.id in output
    assert depth(url) == (1, 0)


def test_directly_replay_of_an_unknown_id_is_not_found(url: str) -> None:
    code, _, exception = run(url, "replay", "nope")

    assert code == 1
    assert isinstance(exception, NotFound)


def test_directly_replay_all_queues_every_dead_job(url: str) -> None:
    make_dead(url, [Job(type="t", payload=i) for i in range(3)])

    code, output, _ = run(url, "replay", "--all")

    assert code == 0
    assert "replayed 3" in output
    assert depth(url) == (3, 0)


@pytest.mark.parametrize("args", [[], ["some-id", "--all"]])
def test_directly_replay_wants_an_id_or_all_but_not_both(url: str, args: list[str]) -> None:
    code, _, exception = run(url, "replay", *args)

    assert code == 1
    assert isinstance(exception, ConfigError)


def test_directly_purge_with_yes_deletes_every_dead_job(url: str) -> None:
    make_dead(url, [Job(type="t", payload=i) for i in range(2)])

    code, output, _ = run(url, "purge", "--yes")

    assert code == 0
    assert "purged 2" in output
    assert depth(url) == (0, 0)


def test_directly_purge_without_yes_and_without_a_terminal_refuses(url: str) -> None:
    make_dead(url, [Job(type="t", payload=1)])

    code, _, exception = run(url, "purge", input="y\n")

    assert code == 1
    assert isinstance(exception, ConfigError)
    assert "--yes" in str(exception)
    assert depth(url) == (0, 1)


def test_directly_errors_are_one_line_and_exit_code_1(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobqueue", "dlq", "show", "nope", "--broker-url", url],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: no dead job with id 'nope'"]


@pytest.mark.parametrize(("answer", "exit_code", "dead_after"), [("y", 0, 0), ("n", 1, 1)])
def test_directly_purge_on_a_terminal_asks_first(
    url: str, answer: str, exit_code: int, dead_after: int
) -> None:
    make_dead(url, [Job(type="t", payload=1)])

    code, output = _run_on_terminal(["dlq", "purge", "--broker-url", url], answer)

    assert "Delete 1 dead job(s)" in output
    assert code == exit_code
    assert depth(url) == (0, dead_after)


def _run_on_terminal(args: list[str], answer: str) -> tuple[int, str]:
    """Run ``jobqueue ARGS`` with a pseudo-terminal as its stdin/stdout; type ``answer``."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "jobqueue", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = _read_until(leader, b"?")
    os.write(leader, answer.encode() + b"\n")
    code = process.wait(timeout=TIMEOUT_S)
    output += _read_rest(leader)
    os.close(leader)
    return code, output.decode(errors="replace")


def _read_until(fd: int, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        data += chunk
    return data


def _read_rest(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the terminal closed once the process exited
            return data
        if not chunk:
            return data
        data += chunk


def test_list_from_another_directory_shows_the_apis_dead_jobs_and_creates_no_file(
    api_url: str, api_broker: str, tmp_path: Path
) -> None:
    jobs = [Job(type="email", payload=i) for i in range(3)]
    make_dead(api_broker, jobs)

    done = jobqueue(tmp_path, "dlq", "list", env={"JOBQUEUE_API_URL": api_url, "COLUMNS": "80"})

    assert done.returncode == 0, done.stderr
    for job in jobs:
        assert job.id in done.stdout
    assert "empty" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_list_through_the_api_of_an_empty_queue_says_so(api_url: str) -> None:
    code, output, _ = run_api(api_url, "list")

    assert code == 0
    assert output.splitlines() == ["the dead-letter queue is empty"]


def test_list_json_through_the_api_gives_one_exact_object_per_line(
    api_url: str, api_broker: str
) -> None:
    jobs = [Job(type="email", payload={"n": BIG, "f": 0.1}), Job(type="t", payload=[])]
    make_dead(api_broker, jobs)

    code, output, _ = run_api(api_url, "list", "--json")
    _, limited, _ = run_api(api_url, "list", "--json", "--limit", "1")

    assert code == 0
    items = [json.loads(line) for line in output.splitlines()]
    assert [item["id"] for item in items] == [job.id for job in jobs]
    assert items[0]["payload"] == {"n": BIG, "f": 0.1}
    assert items[0]["error"] == "SMTP said no\nline two"
    assert len(limited.splitlines()) == 1


def _rows(output: str, ids: list[str]) -> list[str]:
    lines = output.splitlines()
    return [next(line for line in lines if line.startswith(job_id)) for job_id in ids]


def test_list_at_80_columns_fits_with_whole_ids_and_the_error_cut_at_its_end(
    api_url: str, api_broker: str
) -> None:
    jobs = [Job(type="monthly-report", payload={}) for _ in range(3)]
    make_dead(api_broker, jobs, error=LONG_ERROR)

    code, output, _ = run_api(api_url, "list", columns=80)

    assert code == 0
    assert max(len(line) for line in output.splitlines()) <= 80
    header = next(line for line in output.splitlines() if line.startswith("ID"))
    assert header.split() == ["ID", "TYPE", "REASON", "ERROR"]
    for row in _rows(output, [job.id for job in jobs]):
        _, job_type, reason, error = row.split(maxsplit=3)
        assert reason == "max_attempts"
        assert "monthly-report".startswith(job_type.removesuffix("…"))  # free text, cut at its end
        assert error.endswith("…")
        assert LONG_ERROR.startswith(error.removesuffix("…"))


def test_list_at_200_columns_shows_every_column_and_the_whole_error(
    api_url: str, api_broker: str
) -> None:
    job = Job(type="monthly-report", payload={})
    make_dead(api_broker, [job], error=LONG_ERROR)

    code, output, _ = run_api(api_url, "list", columns=200)

    assert code == 0
    header = next(line for line in output.splitlines() if line.startswith("ID"))
    assert header.split() == ["ID", "TYPE", "TRIES", "REASON", "FAILED", "AT", "ERROR"]
    [row] = _rows(output, [job.id])
    assert row.rstrip().endswith(LONG_ERROR)
    assert " 3 " in row


def test_what_a_client_or_worker_sent_is_shown_literally(api_url: str, api_broker: str) -> None:
    job = Job(type="[red]x\x1b[2J", payload={"s": "\x9b31m"})
    make_dead(api_broker, [job], error="\x1b]0;pwned\x07 [bold]boom\u202e")

    shown = [run_api(api_url, "list", columns=columns)[1] for columns in (80, 200)]
    shown += [run_api(api_url, "show", job.id)[1], run_api(api_url, "show", job.id, "--json")[1]]
    shown.append(run_api(api_url, "list", "--json")[1])

    for output in shown:
        assert not {"\x1b", "\x07", "\x9b", "\u202e"} & set(output)
    assert "[red]x\\x1b[2J" in shown[1]
    assert "\\x1b]0;pwned\\x07 [bold]boom\\u202e" in shown[1]
    assert "[red]x\\x1b[2J" in shown[2]
    assert json.loads(shown[3])["error"] == "\x1b]0;pwned\x07 [bold]boom\u202e"


def test_show_through_the_api_prints_the_fields_and_the_traceback(
    api_url: str, api_broker: str
) -> None:
    job = Job(type="email", payload={"n": BIG})
    make_dead(api_broker, [job])

    code, output, _ = run_api(api_url, "show", job.id, columns=80)

    assert code == 0
    lines = output.splitlines()
    assert lines[0].split() == ["id", job.id]
    for field in ("reason", "attempts", "worker id", "failed at", "error", "traceback"):
        assert any(line.startswith(field) for line in lines), field
    assert f'{{"n": {BIG}}}' in output
    assert "line two" in output
    assert "Traceback (most recent call last):" in output


def test_show_json_through_the_api_is_one_exact_object(api_url: str, api_broker: str) -> None:
    job = Job(type="email", payload={"n": BIG})
    make_dead(api_broker, [job])

    code, output, _ = run_api(api_url, "show", job.id, "--json")

    assert code == 0
    [line] = output.splitlines()
    detail = json.loads(line)
    assert (detail["id"], detail["job"]["id"], detail["payload"]) == (job.id, job.id, {"n": BIG})
    assert detail["traceback"].startswith("Traceback")


def test_show_of_an_unknown_id_through_the_api_is_one_line_and_exit_1(
    api_url: str, tmp_path: Path
) -> None:
    done = jobqueue(tmp_path, "dlq", "show", "nope", "--api-url", api_url)

    assert done.returncode == 1
    assert done.stderr.splitlines() == ["error: no dead job with id 'nope'"]


def test_replay_through_the_api_queues_the_job_again(api_url: str, api_broker: str) -> None:
    job = Job(type="email", payload={})
    make_dead(api_broker, [job])
    ready_before, _ = depth(api_broker)

    code, output, _ = run_api(api_url, "replay", job.id)

    assert code == 0
    assert output.splitlines() == [f"replayed {job.id} (type email)"]
    assert depth(api_broker) == (ready_before + 1, 0)


def test_replay_all_and_purge_through_the_api(api_url: str, api_broker: str) -> None:
    make_dead(api_broker, [Job(type="t", payload=i) for i in range(3)])
    ready_before, _ = depth(api_broker)

    replayed = run_api(api_url, "replay", "--all")
    make_dead(api_broker, [Job(type="t", payload=i) for i in range(2)])
    purged = run_api(api_url, "purge", "--yes")

    assert replayed[:2] == (0, "replayed 3 dead job(s)\n")
    assert purged[:2] == (0, "purged 2 dead job(s)\n")
    assert depth(api_broker) == (ready_before + 3, 0)


def test_an_unreachable_api_is_one_line_naming_it_and_suggesting_broker_url(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    done = jobqueue(tmp_path, "dlq", "list", "--api-url", url)

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the API at {url}: ")
    assert line.endswith("pass --broker-url URL to open the broker directly")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["list"], ["show", "some-id"], ["replay", "--all"]])
def test_directly_a_sqlite_file_that_is_not_there_is_one_line_naming_it_and_not_made(
    tmp_path: Path, command: list[str]
) -> None:
    done = jobqueue(tmp_path, "dlq", *command, "--broker-url", "sqlite:///jobqueue.db")

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: no SQLite broker file at {tmp_path / 'jobqueue.db'} (check --broker-url)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_directly_replay_beside_no_store_file_makes_none(url: str, tmp_path: Path) -> None:
    job = Job(type="email", payload={})
    make_dead(url, [job])

    code, _, _ = run(url, "replay", job.id)

    assert code == 0
    assert not (tmp_path / "jobqueue-state.db").exists()
