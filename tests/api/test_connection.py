"""A real ``jobqueue api``'s connections: capped, and closed when a request is too slow to come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.api.test_serve import ApiProcess, api_process

GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
GET_READYZ = b"GET /readyz HTTP/1.1\r\nHost: api\r\n\r\n"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiProcess]:
    """An API that holds at most 3 connections and waits 0.5 s for a request's headers."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    args = ("--broker-url", url, "--http-addr", "127.0.0.1:0", "--max-connections", "3")
    async with api_process(tmp_path, *args, "--header-timeout-s", "0.5") as api:
        yield api
        await api.stop()


async def _connect(api: ApiProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(api.base_url)
    return await asyncio.open_connection(parts.hostname, parts.port)


async def _answer(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """One answer: its status line, its headers, its body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status, *lines = head.strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def test_past_the_connection_cap_a_request_is_refused_and_its_connection_closed(
    api: ApiProcess,
) -> None:
    held = [await _connect(api) for _ in range(3)]
    reader, writer = await _connect(api)
    writer.write(GET_READYZ)
    async with asyncio.timeout(5):
        status, headers, body = await _answer(reader)
        closed = await reader.read()
    for _, other in [*held, (reader, writer)]:
        other.close()

    assert status.startswith("HTTP/1.1 503 ")
    assert headers["retry-after"] == "1"
    assert headers["connection"] == "close"
    assert b'"code":"overloaded"' in body
    assert b"3 connections" in body
    assert closed == b""


async def test_past_the_connection_cap_healthz_still_answers(api: ApiProcess) -> None:
    held = [await _connect(api) for _ in range(3)]
    reader, writer = await _connect(api)
    writer.write(GET_HEALTHZ)
    async with asyncio.timeout(5):
        status, _, body = await _answer(reader)
    for _, other in [*held, (reader, writer)]:
        other.close()

    assert status.startswith("HTTP/1.1 200 ")
    assert body == b'{"status":"ok"}'


async def test_headers_sent_a_byte_at_a_time_are_answered_408_and_the_connection_closed(
    api: ApiProcess,
) -> None:
    reader, writer = await _connect(api)
    for byte in GET_READYZ[:4]:  # within the 0.5 s, then nothing more
        writer.write(bytes([byte]))
        await asyncio.sleep(0.1)
    async with asyncio.timeout(5):
        status, headers, body = await _answer(reader)
        closed = await reader.read()
    writer.close()

    assert status.startswith("HTTP/1.1 408 ")
    assert headers["connection"] == "close"
    assert b'"code":"request_timeout"' in body
    assert b"headers did not arrive within 0.5 s" in body
    assert closed == b""


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    api: ApiProcess,
) -> None:
    reader, writer = await _connect(api)
    async with asyncio.timeout(5):
        status, _, _ = await _answer(reader)
    writer.close()

    assert status.startswith("HTTP/1.1 408 ")


async def test_a_keep_alive_connection_serves_requests_sent_whole_one_after_another(
    api: ApiProcess,
) -> None:
    reader, writer = await _connect(api)
    statuses = []
    for _ in range(3):
        writer.write(GET_HEALTHZ)
        async with asyncio.timeout(5):
            statuses.append((await _answer(reader))[0])
        await asyncio.sleep(0.3)  # idle between requests is the keep-alive's, not a deadline
    writer.close()

    assert all(status.startswith("HTTP/1.1 200 ") for status in statuses)
