"""The ``jobqueue api`` process: listens, serves, survives a broker that is down, stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jobqueue.brokers import from_url
from tests.brokers.rabbit import delete_queues, eventually, fresh_queue_name, raw_channel
from tests.services import RABBITMQ_URL, free_port

START_TIMEOUT_S = 30.0
LISTENING = re.compile(r"^Job API listening on (\S+):(\d+)\.\.\.$")


@dataclass
class ApiProcess:
    """A running ``jobqueue api`` and where it listens."""

    process: asyncio.subprocess.Process
    base_url: str
    log: Path

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
        async with asyncio.timeout(START_TIMEOUT_S):
            return await self.process.wait()


@contextlib.asynccontextmanager
async def api_process(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[ApiProcess]:
    """``jobqueue api`` on free ports (HTTP and gRPC); yields once it printed where it listens."""
    log = tmp_path / "api.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jobqueue",
            "api",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "JOBQUEUE_GRPC_ADDR": "127.0.0.1:0", **(env or {})},
            cwd=tmp_path,  # its default broker and store files land here, not in the checkout
        )
    api = ApiProcess(process, await _listening_url(process, log), log)
    try:
        yield api
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _listening_url(process: asyncio.subprocess.Process, log: Path) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT_S):
        while line := await process.stdout.readline():
            found = LISTENING.match(line.decode().strip())
            if found:
                return f"http://{found[1]}:{found[2]}"
    raise AssertionError(f"the API never said it listens; its log:\n{_read(log)}")


def _read(log: Path) -> str:
    return log.read_text()


async def test_api_serves_jobs_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"

    async with api_process(
        tmp_path, "--broker-url", url, "--http-addr", "127.0.0.1:0", "--queue", "q1"
    ) as api:
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            submitted = await client.post("/jobs", json={"type": "email", "payload": {"x": 1}})
            ready = await client.get("/readyz")
        exit_code = await api.stop()

    assert submitted.status_code == 202
    assert ready.status_code == 200
    assert exit_code == 0, api.log.read_text()
    broker = from_url(url, queue="q1")
    await broker.connect()
    try:
        assert (await broker.depth()).ready == 1
    finally:
        await broker.close()


async def test_api_takes_its_settings_from_the_environment(tmp_path: Path) -> None:
    env = {
        "JOBQUEUE_BROKER_URL": f"sqlite:///{tmp_path / 'env.db'}",
        "JOBQUEUE_HTTP_ADDR": "127.0.0.1:0",
        "JOBQUEUE_MAX_BODY_BYTES": "100",
    }

    async with api_process(tmp_path, env=env) as api:
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            small = await client.post("/jobs", json={"type": "t"})
            big = await client.post("/jobs", json={"type": "t", "payload": "x" * 200})
        exit_code = await api.stop(signal.SIGINT)

    assert api.base_url.startswith("http://127.0.0.1:")
    assert (small.status_code, big.status_code) == (202, 413)
    assert exit_code == 0


async def _one_shot(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run ``jobqueue api ARGS`` to its end; its exit code and standard error."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jobqueue",
        "api",
        *args,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=tmp_path,
    )
    async with asyncio.timeout(START_TIMEOUT_S):
        _, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--http-addr", "localhost"], {}, "--http-addr"),
        (["--grpc-addr", "localhost"], {}, "--grpc-addr"),
        ([], {"JOBQUEUE_HTTP_ADDR": "localhost"}, "JOBQUEUE_HTTP_ADDR"),
    ],
)
async def test_api_refuses_a_bad_address_in_one_line_naming_how_it_was_given(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    code, stderr = await _one_shot(tmp_path, *args, env=env)

    assert code == 1
    assert stderr.strip().splitlines() == [f"error: {named} must be host:port, got 'localhost'"]
    assert os.listdir(tmp_path) == []  # nothing created before the address was checked


async def test_api_waiting_for_a_broker_that_never_comes_exits_1_with_the_reason(
    tmp_path: Path,
) -> None:
    url = f"amqp://guest:s3cret@127.0.0.1:{free_port()}/"
    code, stderr = await _one_shot(
        tmp_path,
        "--wait-for-broker",
        "1.5",
        "--http-addr",
        f"127.0.0.1:{free_port()}",
        env={"JOBQUEUE_BROKER_URL": url, "JOBQUEUE_GRPC_ADDR": "127.0.0.1:0"},
    )

    assert code == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: broker amqp://guest:***@127.0.0.1:")
    assert "not reachable within 1.5 s" in last
    assert "s3cret" not in stderr
    assert "Traceback" not in stderr


async def test_api_keeps_saying_why_the_broker_is_down_while_it_retries(tmp_path: Path) -> None:
    url = f"amqp://guest:s3cret@127.0.0.1:{free_port()}/"
    env = {"JOBQUEUE_BROKER_URL": url, "JOBQUEUE_OUTAGE_LOG_INTERVAL_S": "0.5"}
    async with api_process(tmp_path, env=env) as api:
        await asyncio.sleep(4.0)  # the retries back off from 0.5 s: several past the interval
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            ready = await client.get("/readyz")
        await api.stop()
    log = _read(api.log)
    assert ready.status_code == 503
    assert "broker amqp://guest:***@127.0.0.1:" in log
    assert log.count("still unavailable after") >= 2, log
    assert "s3cret" not in log


class Gate:
    """A TCP proxy to RabbitMQ on a port of its own: closed, open, or holding replies back."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.replies_flow = asyncio.Event()
        self.replies_flow.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Start accepting connections (until now the port refuses them)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Stop accepting and cut every relayed connection."""
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for source, sink, gate in (
            (reader, up_writer, None),
            (up_reader, writer, self.replies_flow),
        ):
            task = asyncio.create_task(_pipe(source, sink, gate))
            self._tasks.add(task)


async def _pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, gate: asyncio.Event | None
) -> None:
    try:
        while data := await source.read(65536):
            if gate is not None:
                await gate.wait()
            sink.write(data)
            await sink.drain()
    finally:
        sink.close()


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    """A fresh RabbitMQ queue name; its queues are deleted after the test."""
    name = fresh_queue_name()
    yield name
    await asyncio.to_thread(delete_queues, RABBITMQ_URL, name)


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    """A closed gate in front of the shared RabbitMQ."""
    gate = Gate(target_port=5672)
    yield gate
    await gate.close()


@pytest.mark.rabbitmq
async def test_api_starts_with_rabbitmq_down_and_accepts_once_it_is_up(
    tmp_path: Path, gate: Gate, queue: str
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{gate.port}/"

    async with api_process(
        tmp_path, "--broker-url", url, "--queue", queue, "--http-addr", "127.0.0.1:0"
    ) as api:
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            down_ready = await client.get("/readyz")
            down_submit = await client.post("/jobs", json={"type": "t"})
            await gate.open()
            await _until_ready(client)
            up_submit = await client.post("/jobs", json={"type": "t"})
        exit_code = await api.stop()

    assert down_ready.status_code == 503
    assert down_submit.status_code == 503
    assert "retry-after" in down_submit.headers
    assert up_submit.status_code == 202
    assert exit_code == 0
    assert "guest:guest" not in api.log.read_text()


@pytest.mark.rabbitmq
async def test_sigterm_lets_a_request_waiting_for_its_confirm_finish(
    tmp_path: Path, gate: Gate, queue: str
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{gate.port}/"
    await gate.open()

    async with api_process(
        tmp_path, "--broker-url", url, "--queue", queue, "--http-addr", "127.0.0.1:0"
    ) as api:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=START_TIMEOUT_S) as client:
            gate.replies_flow.clear()  # the confirm for the next publish is held back
            pending = asyncio.create_task(client.post("/jobs", json={"type": "t"}))
            await _until_published(queue)
            api.process.send_signal(signal.SIGTERM)
            await _until_logged(api.log, "SIGTERM: stopping")
            gate.replies_flow.set()
            response = await pending
        exit_code = await api.stop()

    assert response.status_code == 202
    assert exit_code == 0


async def _until_ready(client: httpx.AsyncClient) -> None:
    async def ready() -> bool:
        return (await client.get("/readyz")).status_code == 200

    await eventually(ready, START_TIMEOUT_S)


async def _until_logged(log: Path, text: str) -> None:
    await eventually(lambda: asyncio.to_thread(lambda: text in log.read_text()), START_TIMEOUT_S)


async def _until_published(queue: str) -> None:
    """Wait until RabbitMQ holds a message on ``queue`` (seen on a direct connection)."""

    def published() -> bool:
        with raw_channel() as channel:
            return bool(channel.queue_declare(queue, passive=True).method.message_count)

    await eventually(lambda: asyncio.to_thread(published), START_TIMEOUT_S)
