"""The event stream's own rules: it ends once the token that opened it is revoked, and open
streams leave the API's in-flight requests alone, and a stopping API ends them at once."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from pathlib import Path
from typing import Any

import httpx
from starlette.types import Message, Receive, Scope, Send

from jobqueue.api.shedding import InFlightLimit
from jobqueue.auth import hashing
from jobqueue.auth.book import TokenBook
from jobqueue.auth.records import TokenRecord
from jobqueue.store.events import utc_now
from jobqueue.ui.broadcast import Broadcaster, TopicKey
from jobqueue.ui.stream import stream_events, token_validity
from tests.services import free_port
from tests.ui.conftest import Stack, wait_until

KEY: TopicKey = ("workers", ())


async def snapshot(key: TopicKey) -> dict[str, Any]:
    return {"workers": {"status": 200, "body": {"workers": []}}}


def book_with_token() -> tuple[TokenBook, TokenRecord, str]:
    """A book holding one stored token; the record and the token."""
    made = hashing.new_secret()
    salt = hashing.new_salt()
    record = TokenRecord(
        "viewer",
        made.token_id,
        salt,
        hashing.digest(salt, made.secret),
        frozenset({"read"}),
        utc_now(),
    )
    book = TokenBook()
    book.load([record])
    return book, record, made.token


async def test_a_stream_ends_once_its_token_is_revoked() -> None:
    book, record, token = book_with_token()
    events = stream_events(Broadcaster(snapshot, interval_s=0.01), KEY, token_validity(book, token))
    assert await anext(events) == b"retry: 3000\n\n"
    assert (await anext(events)).startswith(b"event: change\n")
    book.load([dataclasses.replace(record, revoked_at=utc_now())])
    assert [message async for message in events] == []


async def test_a_stream_without_a_token_lasts_while_auth_is_off() -> None:
    assert token_validity(None, None)()
    assert token_validity(TokenBook(), "anything")() is False  # a book not loaded yet fails closed
    book = TokenBook()
    book.load([])
    assert token_validity(book, "anything")()  # no token anywhere, loopback: auth is off


class Held:
    """An ASGI app that answers 200, holding each request open until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.arrived = asyncio.Event()
        self.entered = 0

    async def reached(self, count: int) -> None:
        """Wait until ``count`` requests are being held."""
        while self.entered < count:
            self.arrived.clear()
            await self.arrived.wait()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        self.arrived.set()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def status_of(app: Any, path: str) -> int:
    """Call ``app`` with a GET of ``path``; the status it answered."""
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    await app(scope, receive, send)
    return statuses[0]


async def test_open_streams_do_not_count_against_the_in_flight_limit() -> None:
    held = Held()
    limit = InFlightLimit(held, max_in_flight=1)
    streams = [asyncio.create_task(status_of(limit, "/ui/stream")) for _ in range(3)]
    await asyncio.wait_for(held.reached(3), 5)
    request = asyncio.create_task(status_of(limit, "/jobs"))  # the one slot is still free
    await asyncio.wait_for(held.reached(4), 5)
    assert await status_of(limit, "/ui/stream") == 503  # the slot taken: a new stream is refused
    held.release.set()
    assert await request == 200
    assert await asyncio.gather(*streams) == [200, 200, 200]


def test_stopping_the_api_ends_its_open_streams_cleanly(tmp_path: Path) -> None:
    stack = Stack(f"http://127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}", tmp_path)
    api = stack.start(
        "api",
        [
            *("api", "--broker-url", f"sqlite:///{tmp_path / 'jq.db'}"),
            *("--http-addr", stack.base.removeprefix("http://"), "--grpc-addr", stack.grpc),
        ],
    )
    try:
        wait_until(lambda: _healthy(stack.base), 30)
        with httpx.stream("GET", f"{stack.base}/ui/stream?page=workers", timeout=60) as answer:
            lines = answer.iter_lines()
            assert next(lines) == "retry: 3000"
            api.send_signal(signal.SIGTERM)
            rest = list(lines)  # the server ends the body: no protocol error, no cut
        assert "event: change" in rest
        assert api.wait(timeout=60) == 0
    finally:
        stack.stop()
    assert "graceful shutdown exceeded" not in (tmp_path / "api.log").read_text()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
