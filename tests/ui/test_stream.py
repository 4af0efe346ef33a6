"""The event stream's own rules: it ends once the token that opened it is revoked."""

from __future__ import annotations

import dataclasses
from typing import Any

from jobqueue.auth import hashing
from jobqueue.auth.book import TokenBook
from jobqueue.auth.records import TokenRecord
from jobqueue.store.events import utc_now
from jobqueue.ui.broadcast import Broadcaster, TopicKey
from jobqueue.ui.stream import stream_events, token_validity

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
