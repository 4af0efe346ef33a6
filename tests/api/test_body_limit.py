"""The body size limit through a real uvicorn server, where bodies arrive in pieces."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.serve import bind_socket, http_server
from jobqueue.api.settings import ApiSettings
from jobqueue.brokers import Broker
from tests.api.conftest import JSON, asgi_client

LIMIT_BYTES = 4096
START_TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def serving(broker: Broker, settings: ApiSettings) -> AsyncIterator[int]:
    """The app served by uvicorn on a free port of 127.0.0.1, which is yielded."""
    server = http_server(create_app(broker, settings=settings), settings)
    sock = bind_socket("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    # The socket listens already: connections wait in its backlog until uvicorn accepts them.
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield port
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def port(broker: Broker) -> AsyncIterator[int]:
    """The port of a real server over the test broker, with a small body limit."""
    async with serving(broker, ApiSettings(max_body_bytes=LIMIT_BYTES)) as port:
        yield port


async def _status_line(reader: asyncio.StreamReader) -> str:
    async with asyncio.timeout(START_TIMEOUT_S):
        head = await reader.readuntil(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode()


def _request_head(extra: str) -> bytes:
    return (
        f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


async def test_declared_oversized_body_is_refused_before_it_is_sent(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Announce 10 MB but send only the head: the answer must come without the body.
    writer.write(_request_head("Content-Length: 10000000\r\n"))
    await writer.drain()

    status = await _status_line(reader)

    assert status.startswith("HTTP/1.1 413 ")
    writer.close()


async def test_chunked_oversized_body_is_refused_once_it_crosses_the_limit(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request_head("Transfer-Encoding: chunked\r\n"))
    chunk = b"x" * 1024
    for _ in range(LIMIT_BYTES // len(chunk) + 1):
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await writer.drain()  # never the final chunk: the body is not over, yet it is refused

    status = await _status_line(reader)
    rest = await reader.read()

    assert status.startswith("HTTP/1.1 413 ")
    assert b'"code":"body_too_large"' in rest
    assert b"4096 bytes" in rest
    writer.close()


async def test_oversized_body_with_content_length_is_413_json(port: int) -> None:
    body = b'{"type": "t", "payload": "' + b"x" * LIMIT_BYTES + b'"}'

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/jobs", content=body, headers=JSON)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_body_at_the_limit_is_accepted(port: int, broker: Broker) -> None:
    head = b'{"type": "t", "payload": "'
    body = head + b"x" * (LIMIT_BYTES - len(head) - 2) + b'"}'
    assert len(body) == LIMIT_BYTES

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/jobs", content=body, headers=JSON)

    assert response.status_code == 202
    assert (await broker.depth()).ready == 1


async def test_default_limit_is_one_mebibyte(broker: Broker) -> None:
    under = b'{"type": "t", "payload": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    over = b'{"type": "t", "payload": "' + b"x" * (1024 * 1024) + b'"}'

    async with asgi_client(create_app(broker)) as client:
        accepted = await client.post("/jobs", content=under, headers=JSON)
        refused = await client.post("/jobs", content=over, headers=JSON)

    assert (accepted.status_code, refused.status_code) == (202, 413)
