"""A real ``jobqueue api`` past its cap on requests in flight: refused at once, nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks.floodgen import Flood, run
from jobqueue.brokers import from_url
from tests.api.test_serve import api_process

SUBMISSION = b'{"type": "email", "payload": {"to": "a@example.com"}}'
EXPECTED = {"202", "503 overloaded"}


async def _queued(url: str) -> int:
    broker = from_url(url, queue="jobs")
    await broker.connect()
    try:
        return (await broker.depth()).ready
    finally:
        await broker.close()


def _address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _post(netloc: str, body: bytes, declared: int | None = None) -> bytes:
    head = (
        f"POST /jobs HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if declared is None else declared}\r\n\r\n"
    )
    return head.encode() + body


@contextlib.asynccontextmanager
async def _held_requests(
    host: str, port: int, count: int
) -> AsyncIterator[list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]:
    """``count`` requests in flight: each declares a body and sends only its first byte."""
    held = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_post(f"{host}:{port}", b"{", declared=len(SUBMISSION)))
        held.append((reader, writer))
    try:
        yield held
    finally:
        for _, writer in held:
            writer.close()


async def test_a_flood_past_the_cap_is_answered_202_or_503_and_every_202_is_in_the_broker(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    args = ("--broker-url", url, "--http-addr", "127.0.0.1:0", "--max-in-flight", "4")

    async with api_process(tmp_path, *args) as api:
        host, port = _address(api.base_url)
        flood = Flood(
            host=host,
            port=port,
            request=_post(f"{host}:{port}", SUBMISSION),
            jobs=1,
            max_attempts=30,
            timeout_s=30.0,
            honour_retry_after=False,
        )
        result = await run(flood, clients=300)
        exit_code = await api.stop()

    assert set(result.outcomes) <= EXPECTED, result.outcomes
    assert result.outcomes.get("503 overloaded", 0) > 0
    assert result.outcomes["202"] == await _queued(url)
    assert exit_code == 0, api.log.read_text()


async def test_past_the_cap_a_request_is_refused_at_once_but_healthz_answers(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    args = ("--broker-url", url, "--http-addr", "127.0.0.1:0", "--max-in-flight", "2")

    async with api_process(tmp_path, *args) as api:
        async with (
            _held_requests(*_address(api.base_url), 2),
            httpx.AsyncClient(base_url=api.base_url) as client,
        ):
            await asyncio.sleep(0.3)  # both held requests reached the app
            refused = await client.post("/jobs", json={"type": "email"})
            health = await client.get("/healthz")
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            accepted = await client.post("/jobs", json={"type": "email"})
        await api.stop()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "overloaded"
    assert "2 requests in flight" in refused.json()["error"]["message"]
    assert health.status_code == 200
    assert accepted.status_code == 202


async def test_a_body_that_never_comes_is_answered_408_and_frees_its_place(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    args = ("--broker-url", url, "--http-addr", "127.0.0.1:0", "--max-in-flight", "1")

    async with api_process(tmp_path, *args, "--body-timeout-s", "0.5") as api:
        async with _held_requests(*_address(api.base_url), 1) as held:
            reader, _ = held[0]
            async with asyncio.timeout(5):
                answer = await reader.read()
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            accepted = await client.post("/jobs", json={"type": "email"})
        exit_code = await api.stop()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in body
    assert b"body did not arrive within 0.5 s" in body
    assert accepted.status_code == 202
    assert "Traceback" not in api.log.read_text()
    assert exit_code == 0
