"""``jobqueue dlq`` on a real SQLite file: list, show, replay, purge, and their one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobqueue.brokers import Broker, Death, from_url
from jobqueue.cli import app
from jobqueue.errors import ConfigError, NotFound
from jobqueue.job import Job

TIMEOUT_S = 30.0
BIG = 123456789012345678901234567890


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite broker URL in the test's own directory."""
    return f"sqlite:///{tmp_path / 'jobqueue.db'}"


def run(url: str, *args: str, input: str | None = None) -> tuple[int, str, BaseException | None]:
    """Run ``jobqueue dlq ARGS`` in-process with the broker URL from the environment."""
    env = {"JOBQUEUE_BROKER_URL": url, "COLUMNS": "160"}
    result = CliRunner().invoke(app, ["dlq", *args], input=input, env=env)
    return result.exit_code, result.output, result.exception


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


def make_dead(url: str, jobs: list[Job]) -> None:
    """Publish ``jobs`` and dead-letter every one of them."""

    async def kill(broker: Broker) -> None:
        await broker.publish(jobs)
        stream = aiter(broker.deliveries(prefetch=len(jobs)))
        async with asyncio.timeout(TIMEOUT_S):
            for _ in jobs:
                delivery = await anext(stream)
                death = Death(reason="max_attempts", error="SMTP said no\nline two", attempts=3)
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


def test_list_of_an_empty_queue_says_so(url: str) -> None:
    code, output, _ = run(url, "list")

    assert code == 0
    assert "the dead-letter queue is empty" in output


def test_list_shows_a_table_of_dead_jobs(url: str) -> None:
    jobs = [Job(type="email", payload={}), Job(type="resize", payload={})]
    make_dead(url, jobs)

    code, output, _ = run(url, "list")

    assert code == 0
    for text in (jobs[0].id, jobs[1].id, "email", "resize", "max_attempts", "SMTP said no"):
        assert text in output
    assert "line two" not in output


def test_list_as_json_gives_one_exact_object_per_line(url: str) -> None:
    job = Job(type="email", payload={"n": BIG, "f": 0.1})
    make_dead(url, [job])

    code, output, _ = run(url, "list", "--json")

    assert code == 0
    [line] = output.splitlines()
    item = json.loads(line)
    assert (item["id"], item["type"], item["reason"]) == (job.id, "email", "max_attempts")
    assert item["payload"] == {"n": BIG, "f": 0.1}


def test_list_limit_caps_the_rows(url: str) -> None:
    make_dead(url, [Job(type="t", payload=i) for i in range(3)])

    _, output, _ = run(url, "list", "--json", "--limit", "2")

    assert len(output.splitlines()) == 2


def test_show_prints_the_dead_job_as_json(url: str) -> None:
    job = Job(type="email", payload={"n": BIG})
    make_dead(url, [job])

    code, output, _ = run(url, "show", job.id)

    assert code == 0
    detail = json.loads(output)
    assert detail["job"]["id"] == job.id
    assert detail["payload"] == {"n": BIG}
    assert detail["error"] == "SMTP said no\nline two"


def test_show_of_an_unknown_id_is_not_found(url: str) -> None:
    code, _, exception = run(url, "show", "nope")

    assert code == 1
    assert isinstance(exception, NotFound)
    assert "nope" in str(exception)


def test_replay_queues_the_job_again(url: str) -> None:
    job = Job(type="email", payload={})
    make_dead(url, [job])

    code, output, _ = run(url, "replay", job.id)

    assert code == 0
    assert job.id in output
    assert depth(url) == (1, 0)


def test_replay_of_an_unknown_id_is_not_found(url: str) -> None:
    code, _, exception = run(url, "replay", "nope")

    assert code == 1
    assert isinstance(exception, NotFound)


def test_replay_all_queues_every_dead_job(url: str) -> None:
    make_dead(url, [Job(type="t", payload=i) for i in range(3)])

    code, output, _ = run(url, "replay", "--all")

    assert code == 0
    assert "replayed 3" in output
    assert depth(url) == (3, 0)


@pytest.mark.parametrize("args", [[], ["some-id", "--all"]])
def test_replay_wants_an_id_or_all_but_not_both(url: str, args: list[str]) -> None:
    code, _, exception = run(url, "replay", *args)

    assert code == 1
    assert isinstance(exception, ConfigError)


def test_purge_with_yes_deletes_every_dead_job(url: str) -> None:
    make_dead(url, [Job(type="t", payload=i) for i in range(2)])

    code, output, _ = run(url, "purge", "--yes")

    assert code == 0
    assert "purged 2" in output
    assert depth(url) == (0, 0)


def test_purge_without_yes_and_without_a_terminal_refuses(url: str) -> None:
    make_dead(url, [Job(type="t", payload=1)])

    code, _, exception = run(url, "purge", input="y\n")

    assert code == 1
    assert isinstance(exception, ConfigError)
    assert "--yes" in str(exception)
    assert depth(url) == (0, 1)


def test_errors_are_one_line_and_exit_code_1(url: str) -> None:
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
def test_purge_on_a_terminal_asks_first(
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
