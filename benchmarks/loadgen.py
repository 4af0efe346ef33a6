"""An HTTP/1.1 load generator light enough not to be the bottleneck: keep-alive, no framework.

    python -m benchmarks.loadgen closed http://127.0.0.1:8080/jobs BODY_FILE --connections 32 \
        --duration-s 5
    python -m benchmarks.loadgen closed URL BODY_FILE --connections 8 --requests 200
    python -m benchmarks.loadgen paced URL --rate 100 --requests 500 --job-type stamp

``closed``: each of ``--connections`` keep-alive connections sends the same pre-built POST again
as soon as its previous answer is read, for ``--duration-s`` (after ``--warmup-s``) or until
``--requests`` have been sent in all. ``paced``: an open loop that starts one request every
``1/rate`` seconds whatever the answers do (a new connection when none is idle), each job's
payload carrying ``sent_ns``, the wall-clock time its request started, so that the handler can
tell how long the job took to reach it. Prints one JSON object: requests, statuses, seconds,
request latencies and the generator's own CPU time (``cpu_s``). In ``closed`` mode each
connection is a bare ``asyncio.Protocol`` (no streams, no task per request): a request costs
this client little more than its two system calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

KEEP_ALIVE_S = 4.0
"""Idle connections older than this are not reused: the server may be closing them."""
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


@dataclass
class LoadResult:
    """What the generator saw: counts by status, the window timed, latencies in milliseconds."""

    requests: int = 0
    answered_in_all: int = 0  # warm-up included
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    elapsed_s: float = 0.0
    started_ns: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    lag_max_ms: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time over the whole run, warm-up included

    def record(self, status: int, latency_s: float) -> None:
        """Count one answer and its latency."""
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.requests += 1
        self.latencies_ms.append(latency_s * 1000)


def request_bytes(host: str, path: str, body: bytes) -> bytes:
    """A complete keep-alive POST of a JSON body (with ``Authorization: Bearer
    $JOBQUEUE_TOKEN`` when that is set)."""
    token = os.environ.get("JOBQUEUE_TOKEN", "")
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response (Content-Length framed) and return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


class Closed:
    """Closed loop: each connection sends again as soon as it has its answer."""

    def __init__(self, url: str, body: bytes, connections: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.request = request_bytes(parts.netloc, parts.path or "/", body)
        self.connections = connections
        self.result = LoadResult()
        self.measuring = False
        self.measured_from = 0.0
        self.stop_at = float("inf")
        self.budget = -1  # requests left to send, or -1 for no limit

    async def run(self, duration_s: float, warmup_s: float, requests: int) -> LoadResult:
        """Load for ``duration_s`` after ``warmup_s``, or send exactly ``requests`` if given."""
        loop = asyncio.get_running_loop()
        cpu_before = time.process_time()
        now = time.perf_counter()
        self.budget = requests if requests > 0 else -1
        self.stop_at = float("inf") if requests > 0 else now + warmup_s + duration_s
        if requests > 0:
            self._start_measuring()
        else:
            loop.call_later(warmup_s, self._start_measuring)
        await asyncio.gather(*(self._connection(loop) for _ in range(self.connections)))
        self.result.elapsed_s = time.perf_counter() - self.measured_from
        self.result.cpu_s = time.process_time() - cpu_before
        return self.result

    def _start_measuring(self) -> None:
        self.measuring = True
        self.measured_from = time.perf_counter()
        self.result.started_ns = time.time_ns()

    def next_request(self) -> bytes | None:
        """The request to send next on a connection, or None when the load is over."""
        if self.budget == 0 or time.perf_counter() >= self.stop_at:
            return None
        if self.budget > 0:
            self.budget -= 1
        return self.request

    def answered(self, status: int, latency_s: float) -> None:
        """Count one answer (and time it, once measuring)."""
        self.result.answered_in_all += 1
        if self.measuring:
            self.result.record(status, latency_s)

    async def _connection(self, loop: asyncio.AbstractEventLoop) -> None:
        done: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(
                lambda: _ClosedLoopProtocol(self, done), self.host, self.port
            )
        except OSError:
            self.result.errors += 1
            return
        await done


class _ClosedLoopProtocol(asyncio.Protocol):
    """One keep-alive connection of a closed loop, on the loop's callbacks: no stream objects,
    no task per request, so a request costs this process little more than its two system calls.
    """

    def __init__(self, load: Closed, done: asyncio.Future[None]) -> None:
        self.load = load
        self.done = done
        self.buffer = bytearray()
        self.sent = 0.0
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._send_next()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = _CONTENT_LENGTH.search(buffer, 0, end)
        size = end + 4 + (int(length.group(1)) if length else 0)
        if len(buffer) < size:
            return
        if len(buffer) > size or not buffer.startswith(b"HTTP/1.1 "):
            self._finish(error=True)  # one request at a time: nothing may follow its answer
            return
        self.load.answered(int(buffer[9:12]), time.perf_counter() - self.sent)
        buffer.clear()
        self._send_next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(error=True)

    def _send_next(self) -> None:
        request = self.load.next_request()
        if request is None:
            self._finish(error=False)
            return
        assert self.transport is not None
        self.sent = time.perf_counter()
        self.transport.write(request)

    def _finish(self, error: bool) -> None:
        if self.done.done():
            return
        if error:
            self.load.result.errors += 1
        self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()


class Paced:
    """Open loop: a request every ``1/rate`` s, each job stamped with its request's start."""

    def __init__(self, url: str, job_type: str, pad_bytes: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.netloc, self.path = parts.netloc, parts.path or "/"
        self.job_type, self.pad = job_type, "x" * pad_bytes
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.result = LoadResult()
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self, rate: float, requests: int) -> LoadResult:
        """Start ``requests`` requests at ``rate`` per second; wait for every answer."""
        cpu_before = time.process_time()
        self.idle.append((*await self._connect(), time.monotonic()))
        self.result.started_ns = time.time_ns()
        started = time.perf_counter()
        for index in range(requests):
            due = started + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            lag_ms = (time.perf_counter() - due) * 1000
            self.result.lag_max_ms = max(self.result.lag_max_ms, lag_ms)
            task = asyncio.create_task(self._one())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        if self.tasks:
            await asyncio.wait(list(self.tasks))
        self.result.elapsed_s = time.perf_counter() - started
        self.result.cpu_s = time.process_time() - cpu_before
        for _, writer, _ in self.idle:
            writer.close()
        return self.result

    async def _one(self) -> None:
        sent = time.perf_counter()
        job = {"type": self.job_type, "payload": {"sent_ns": time.time_ns(), "pad": self.pad}}
        body = json.dumps(job).encode()
        try:
            reader, writer = self._fresh_idle() or await self._connect()
            writer.write(request_bytes(self.netloc, self.path, body))
            status = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.result.errors += 1
            return
        self.result.record(status, time.perf_counter() - sent)
        self.idle.append((reader, writer, time.monotonic()))

    def _fresh_idle(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """An idle connection the server has not closed for idleness (uvicorn: after 5 s)."""
        while self.idle:
            reader, writer, since = self.idle.pop()
            if time.monotonic() - since < KEEP_ALIVE_S:
                return reader, writer
            writer.close()
        return None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    closed = sub.add_parser("closed")
    closed.add_argument("url")
    closed.add_argument("body_file", type=Path)
    closed.add_argument("--connections", type=int, default=32)
    closed.add_argument("--duration-s", type=float, default=5.0)
    closed.add_argument("--warmup-s", type=float, default=1.0)
    closed.add_argument("--requests", type=int, default=0, help="send exactly this many")
    paced = sub.add_parser("paced")
    paced.add_argument("url")
    paced.add_argument("--rate", type=float, default=100.0)
    paced.add_argument("--requests", type=int, default=500)
    paced.add_argument("--job-type", default="stamp")
    paced.add_argument("--pad-bytes", type=int, default=60)
    return parser


async def _main(args: argparse.Namespace) -> LoadResult:
    if args.mode == "closed":
        load = Closed(args.url, args.body_file.read_bytes(), args.connections)
        return await load.run(args.duration_s, args.warmup_s, args.requests)
    return await Paced(args.url, args.job_type, args.pad_bytes).run(args.rate, args.requests)


def main() -> None:
    """Run the load and print the result as JSON (on uvloop when it is installed)."""
    args = _parser().parse_args()
    try:
        import uvloop

        result = uvloop.run(_main(args))
    except ImportError:
        result = asyncio.run(_main(args))
    write_all(sys.stdout.fileno(), (json.dumps(asdict(result)) + "\n").encode())


def write_all(fd: int, data: bytes) -> None:
    """Write ``data`` whole to ``fd``, made blocking first: the event loop may leave stdout
    non-blocking, and a result past the pipe's 64 KiB would then come out cut or torn."""
    sys.stdout.flush()
    os.set_blocking(fd, True)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    main()
