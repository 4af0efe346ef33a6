"""A flood of clients at once, every answer counted: how an API behaves past what it can serve.

    python -m benchmarks.floodgen http://127.0.0.1:8080/jobs BODY_FILE --clients 2000 \
        --jobs 5 --timeout-s 60

Each of ``--clients`` clients opens its own connection at the same moment and sends the POST
until ``--jobs`` of them were answered 202 (or after ``--max-attempts``), each as soon as the
previous was answered. A refusal (503, 429) with ``Retry-After`` makes it wait that long first,
as a well-behaved client does (``--ignore-retry-after``: it does not). A client whose connection
the server closed opens a new one for its next request. Every request ends in exactly one
outcome: its status with the error code of a JSON error body (``"202"``, ``"503 overloaded"``,
``"429 rate_limited"``), ``"timeout"`` (no answer within ``--timeout-s``: a hang) or
``"error <Name>"`` (the connection failed or broke before the answer). Latencies run from the
request's start, its connecting included, to its answer. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.loadgen import request_bytes


@dataclass
class FloodResult:
    """Outcomes by kind, the latencies of the answered requests by outcome, and how long the
    flood took."""

    outcomes: dict[str, int] = field(default_factory=dict)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0

    def count(self, outcome: str) -> None:
        """Count one request's outcome."""
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class _Connection:
    """One client's keep-alive connection, opened again when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.closing: list[asyncio.StreamWriter] = []

    async def ask(self, request: bytes) -> tuple[str, float]:
        """Send ``request``; its status with its error code, and its ``Retry-After`` (or 0)."""
        if self.reader is None or self.writer is None or self.reader.at_eof():
            self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        headers = _headers(head)
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return _outcome(int(head[9:12]), body), float(headers.get("retry-after", "0"))

    def close(self) -> None:
        """Close the connection, if open."""
        if self.writer is not None:
            self.writer.close()
            self.closing.append(self.writer)
        self.reader = self.writer = None

    async def closed(self) -> None:
        """Wait until every connection it closed is closed."""
        for writer in self.closing:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    pairs = (line.partition(":") for line in lines if line)
    return {name.strip().lower(): value.strip() for name, _, value in pairs}


def _outcome(status: int, body: bytes) -> str:
    if status < 400:
        return str(status)
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = "not-json"
    return f"{status} {code}"


@dataclass(frozen=True)
class Flood:
    """Where to, what, and how the clients behave."""

    host: str
    port: int
    request: bytes
    jobs: int
    max_attempts: int
    timeout_s: float
    honour_retry_after: bool


async def _client(flood: Flood, result: FloodResult) -> None:
    connection = _Connection(flood.host, flood.port)
    accepted = 0
    try:
        for _ in range(flood.max_attempts):
            outcome, retry_after_s = await _attempt(flood, connection, result)
            accepted += outcome == "202"
            if accepted == flood.jobs:
                return
            if flood.honour_retry_after and retry_after_s > 0:
                await asyncio.sleep(retry_after_s)
    finally:
        connection.close()
        await connection.closed()


async def _attempt(flood: Flood, connection: _Connection, result: FloodResult) -> tuple[str, float]:
    started = time.perf_counter()
    retry_after_s = 0.0
    try:
        async with asyncio.timeout(flood.timeout_s):
            outcome, retry_after_s = await connection.ask(flood.request)
    except TimeoutError:
        outcome = "timeout"
        connection.close()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        outcome = f"error {type(exc).__name__}"
        connection.close()
    else:
        latency_ms = (time.perf_counter() - started) * 1000
        result.latencies_ms.setdefault(outcome, []).append(latency_ms)
    result.count(outcome)
    return outcome, retry_after_s


async def run(flood: Flood, clients: int) -> FloodResult:
    """Run ``clients`` clients of ``flood``, all at once; what they saw."""
    result = FloodResult()
    cpu_before, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(_client(flood, result) for _ in range(clients)))
    result.elapsed_s = time.perf_counter() - started
    result.cpu_s = time.process_time() - cpu_before
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=5, help="accepted jobs each client wants")
    parser.add_argument("--max-attempts", type=int, default=100, help="per client")
    parser.add_argument(
        "--timeout-s", type=float, default=60.0, help="a request unanswered this long hangs"
    )
    parser.add_argument("--ignore-retry-after", action="store_true")
    return parser


def _flood(args: argparse.Namespace) -> Flood:
    parts = urlsplit(args.url)
    return Flood(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 80,
        request=request_bytes(parts.netloc, parts.path or "/", args.body_file.read_bytes()),
        jobs=args.jobs,
        max_attempts=args.max_attempts,
        timeout_s=args.timeout_s,
        honour_retry_after=not args.ignore_retry_after,
    )


def main() -> None:
    """Run the flood and print the result as JSON (on uvloop when it is installed)."""
    args = _parser().parse_args()
    flood = run(_flood(args), args.clients)
    try:
        import uvloop

        result = uvloop.run(flood)
    except ImportError:
        result = asyncio.run(flood)
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
