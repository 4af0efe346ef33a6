"""Tokens on the gRPC WorkerService: the gate in front of a real server, the original's client
from listed and unlisted networks, and a real worker with a token on a real API."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeAlias

import grpc
import grpc.aio
import pytest

from jobqueue.auth.book import TokenBook
from jobqueue.auth.grpc import WorkerTokenGate, peer_address
from jobqueue.auth.settings import AuthSettings
from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.server import ControlServer
from jobqueue.registry.memory import InMemoryRegistry

Stub: TypeAlias = "pb_grpc.WorkerServiceAsyncStub"
WORKER_SECRET = "w" * 32
READER_SECRET = "r" * 32
TIMEOUT_S = 5.0
ORIGINAL_CLIENT = Path(__file__).resolve().parent.parent / "control" / "original_client.py"


def book_with_tokens() -> TokenBook:
    book = TokenBook.from_lines([f"fleet:worker:{WORKER_SECRET}", f"dash:read:{READER_SECRET}"])
    book.load([])  # the store's tokens were read: none there
    return book


Gated = Callable[..., Awaitable[ControlServer]]


@pytest.fixture
async def gated() -> AsyncIterator[Gated]:
    """Start control servers behind a gate: ``await gated(book, cidrs)``."""
    servers: list[ControlServer] = []

    async def start(book: TokenBook, cidrs: tuple[str, ...] = ()) -> ControlServer:
        gate = WorkerTokenGate(book, AuthSettings(tokenless_worker_networks=cidrs).networks())
        server = ControlServer(InMemoryRegistry(), "127.0.0.1:0", gate=gate)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


async def _register(port: int, token: str | None = None) -> grpc.StatusCode:
    metadata = () if token is None else (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub: Stub = pb_grpc.WorkerServiceStub(channel)
        try:
            await stub.Register(
                pb.RegisterRequest(worker_id="w1"), timeout=TIMEOUT_S, metadata=metadata
            )
            await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def _refusal(port: int, token: str | None) -> tuple[grpc.StatusCode, str]:
    metadata = () if token is None else (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub: Stub = pb_grpc.WorkerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Heartbeat(
                pb.HeartbeatRequest(worker_id="w1"), timeout=TIMEOUT_S, metadata=metadata
            )
    return refused.value.code(), refused.value.details() or ""


async def test_a_call_without_a_token_is_unauthenticated_and_says_what_to_send(
    gated: Gated,
) -> None:
    server = await gated(book_with_tokens())
    code, message = await _refusal(server.port, None)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization: Bearer TOKEN" in message


async def test_an_unknown_token_is_unauthenticated_and_never_echoed(gated: Gated) -> None:
    server = await gated(book_with_tokens())
    code, message = await _refusal(server.port, "x" * 40)
    assert (code, message) == (grpc.StatusCode.UNAUTHENTICATED, "the API token is not valid")
    assert (await _refusal(server.port, ""))[0] == grpc.StatusCode.UNAUTHENTICATED


async def test_a_read_only_token_is_denied_naming_the_worker_scope(gated: Gated) -> None:
    server = await gated(book_with_tokens())
    code, message = await _refusal(server.port, READER_SECRET)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert message == (
        "this token lacks the 'worker' scope, which /worker.WorkerService/Heartbeat needs"
    )


async def test_a_worker_token_may_call_every_method(gated: Gated) -> None:
    server = await gated(book_with_tokens())
    assert await _register(server.port, WORKER_SECRET) == grpc.StatusCode.OK
    assert [info.worker_id for info in await server.registry.workers()] == ["w1"]


async def test_with_auth_off_every_call_passes_without_a_token(gated: Gated) -> None:
    book = TokenBook()
    book.load([])
    assert not book.required
    server = await gated(book)
    assert await _register(server.port) == grpc.StatusCode.OK


async def test_a_tokenless_client_from_a_listed_network_is_admitted_from_another_refused(
    gated: Gated,
) -> None:
    listed = await gated(book_with_tokens(), ("127.0.0.0/8",))
    unlisted = await gated(book_with_tokens(), ("10.0.0.0/8",))
    assert await _register(listed.port) == grpc.StatusCode.OK
    assert await _register(unlisted.port) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_bad_token_is_refused_even_from_a_listed_network(gated: Gated) -> None:
    server = await gated(book_with_tokens(), ("127.0.0.0/8",))
    assert await _register(server.port, "y" * 40) == grpc.StatusCode.UNAUTHENTICATED
    assert await _register(server.port, READER_SECRET) == grpc.StatusCode.PERMISSION_DENIED


async def test_the_store_not_read_yet_fails_closed(gated: Gated) -> None:
    server = await gated(TokenBook())  # no token, but the store's tokens are unknown
    assert await _register(server.port) == grpc.StatusCode.UNAUTHENTICATED


def test_peer_addresses_are_read_from_grpc_peer_strings() -> None:
    assert str(peer_address("ipv4:10.1.2.3:5555")) == "10.1.2.3"
    assert str(peer_address("ipv6:[::1]:5555")) == "::1"
    assert str(peer_address("ipv6:%5B::1%5D:5555")) == "::1"
    assert str(peer_address("ipv6:[::ffff:10.0.0.7]:80")) == "10.0.0.7"
    assert peer_address("unix:/tmp/sock") is None
    assert peer_address("ipv4:nonsense:1") is None


async def _original_client(port: int) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ORIGINAL_CLIENT),
        f"127.0.0.1:{port}",
        "go-worker",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    answers: dict[str, object] = json.loads(stdout)
    return answers


async def test_the_original_client_is_admitted_token_less_only_from_a_listed_network(
    gated: Gated,
) -> None:
    listed = await gated(book_with_tokens(), ("127.0.0.0/8",))
    answers = await _original_client(listed.port)
    assert (answers["register"], answers["heartbeat"]) == ("ok", "alive")
    assert "go-worker" in [w["worker_id"] for w in answers["workers"]]  # type: ignore[attr-defined]
