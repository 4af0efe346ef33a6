"""Per-registration secrets against the real gRPC server: spoofed heartbeats and deregisters
for a victim are refused and change nothing, in memory and in Redis shared by two APIs."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc
import grpc.aio
import pytest
import redis.asyncio as aioredis

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.client import ControlClient
from jobqueue.control.redis_sessions import RedisSessionStore
from jobqueue.control.server import ControlServer
from jobqueue.control.sessions import Sessions
from jobqueue.registry import Command, Registry
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.registry.redis import RedisRegistry
from tests.control.conftest import TTL_S, worker_stats
from tests.control.polling import eventually
from tests.services import REDIS_URL, require_service

Stub: TypeAlias = "pb_grpc.WorkerServiceAsyncStub"
TIMEOUT_S = 5.0


async def _register(stub: Stub, worker_id: str = "victim", secret: str = "") -> str:
    request = pb.RegisterRequest(worker_id=worker_id, sessions=True, session_secret=secret)
    reply = await stub.Register(request, timeout=TIMEOUT_S)
    assert reply.status == "ok"
    return reply.session_secret


async def _refused(call: object, request: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(request, timeout=TIMEOUT_S)  # type: ignore[operator]
    return refused.value.code(), refused.value.details() or ""


async def _spoofs_are_refused(stub: Stub, victim: Stub, registry: Registry) -> None:
    """The shared story: a victim with a session, a spoofer without its secret."""
    secret = await _register(victim)
    assert len(secret) >= 40
    assert await registry.send_command("victim", Command.PAUSE)
    for wrong in ("", "guess"):
        beat = pb.HeartbeatRequest(worker_id="victim", session_secret=wrong)
        code, message = await _refused(stub.Heartbeat, beat)
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert message == "heartbeat for worker 'victim' without its session secret"
        assert secret not in message
        leave = pb.DeregisterRequest(worker_id="victim", session_secret=wrong)
        assert (await _refused(stub.Deregister, leave))[0] == grpc.StatusCode.PERMISSION_DENIED
    code, _ = await _refused(stub.Register, pb.RegisterRequest(worker_id="victim"))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    info = await registry.get("victim")
    assert info is not None
    assert info.pending_command is Command.PAUSE
    beat = pb.HeartbeatRequest(worker_id="victim", session_secret=secret)
    reply = await victim.Heartbeat(beat, timeout=TIMEOUT_S)
    assert reply.command == pb.COMMAND_PAUSE  # the real worker still gets its command
    leave = pb.DeregisterRequest(worker_id="victim", session_secret=secret)
    assert (await victim.Deregister(leave, timeout=TIMEOUT_S)).status == "ok"
    assert await registry.get("victim") is None
    assert await _register(stub) != secret  # deregistered: the id is free again


async def test_spoofed_heartbeat_and_deregister_are_refused_and_the_victim_keeps_its_command(
    stub: Stub, registry: InMemoryRegistry
) -> None:
    await _spoofs_are_refused(stub, stub, registry)


async def test_registering_again_with_the_secret_gives_a_new_one(stub: Stub) -> None:
    first = await _register(stub)
    second = await _register(stub, secret=first)
    assert second != first
    stale = pb.HeartbeatRequest(worker_id="victim", session_secret=first)
    assert (await _refused(stub.Heartbeat, stale))[0] == grpc.StatusCode.PERMISSION_DENIED
    fresh = pb.HeartbeatRequest(worker_id="victim", session_secret=second)
    assert (await stub.Heartbeat(fresh, timeout=TIMEOUT_S)).status == "alive"


async def test_a_worker_without_sessions_is_taken_as_ever(stub: Stub) -> None:
    reply = await stub.Register(pb.RegisterRequest(worker_id="go"), timeout=TIMEOUT_S)
    assert reply.session_secret == ""
    beat = await stub.Heartbeat(pb.HeartbeatRequest(worker_id="go"), timeout=TIMEOUT_S)
    assert beat.status == "alive"
    leave = await stub.Deregister(pb.DeregisterRequest(worker_id="go"), timeout=TIMEOUT_S)
    assert leave.status == "ok"


async def test_a_session_expires_with_the_worker_and_the_id_is_free_again() -> None:
    registry = InMemoryRegistry(ttl_s=0.3)
    async with (
        ControlServer(registry, "127.0.0.1:0") as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub: Stub = pb_grpc.WorkerServiceStub(channel)
        await _register(stub)

        async def free() -> bool:
            try:
                await _register(stub)
            except grpc.aio.AioRpcError:
                return False
            return True

        await eventually(free, timeout_s=5, what="the expired id registered again")


async def test_a_worker_whose_api_lost_its_session_is_registered_again_by_its_heartbeat() -> None:
    first, second = InMemoryRegistry(ttl_s=TTL_S), InMemoryRegistry(ttl_s=TTL_S)
    async with ControlServer(first, "127.0.0.1:0") as server:
        port = server.port
        client = ControlClient(f"127.0.0.1:{port}", worker_stats, lambda _: None, interval_s=0.1)
        await client.start()
        await eventually(lambda: _listed(first), what="registered")
    async with ControlServer(second, f"127.0.0.1:{port}"):  # a restarted API: no sessions
        await eventually(lambda: _listed(second), what="registered again by a heartbeat")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            spoofer: Stub = pb_grpc.WorkerServiceStub(channel)
            beat = pb.HeartbeatRequest(worker_id="w1")
            assert (await _refused(spoofer.Heartbeat, beat))[0] == grpc.StatusCode.PERMISSION_DENIED
        await client.stop()
        assert await second.get("w1") is None  # its own deregister carried the secret


async def _listed(registry: InMemoryRegistry) -> bool:
    return await registry.get("w1") is not None


@pytest.fixture
async def two_apis(redis_prefix: str) -> AsyncIterator[tuple[Stub, Stub, RedisRegistry]]:
    """Two control servers sharing one Redis registry and its sessions."""
    require_service("redis")
    registries = [RedisRegistry.from_url(REDIS_URL, key_prefix=redis_prefix) for _ in "ab"]
    sessions = [
        Sessions(RedisSessionStore.from_url(REDIS_URL, key_prefix=redis_prefix)) for _ in "ab"
    ]
    servers = [
        ControlServer(registry, "127.0.0.1:0", sessions=store)
        for registry, store in zip(registries, sessions, strict=True)
    ]
    channels = []
    try:
        for server in servers:
            await server.start()
            channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{server.port}"))
        yield (
            pb_grpc.WorkerServiceStub(channels[0]),
            pb_grpc.WorkerServiceStub(channels[1]),
            (registries[0]),
        )
    finally:
        for channel in channels:
            await channel.close()
        for server in servers:
            await server.stop()
        for registry, store in zip(registries, sessions, strict=True):
            await registry.close()
            await store.close()


async def test_sessions_in_redis_are_shared_by_two_apis(
    two_apis: tuple[Stub, Stub, RedisRegistry],
) -> None:
    victim, spoofer, registry = two_apis
    await _spoofs_are_refused(spoofer, victim, registry)


async def test_redis_keeps_only_a_hash_of_the_secret_with_the_workers_ttl(
    two_apis: tuple[Stub, Stub, RedisRegistry], redis_prefix: str
) -> None:
    victim, other, _ = two_apis
    secret = await _register(victim)
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        key = f"{redis_prefix}session:victim"
        assert await client.get(key) == hashlib.sha256(secret.encode()).hexdigest()
        assert 0 < await client.pttl(key) <= 15_000  # the registry's default TTL
        beat = pb.HeartbeatRequest(worker_id="victim", session_secret=secret)
        await other.Heartbeat(beat, timeout=TIMEOUT_S)  # the other API knows the session
        leave = pb.DeregisterRequest(worker_id="victim", session_secret=secret)
        await other.Deregister(leave, timeout=TIMEOUT_S)
        assert await client.exists(key) == 0
    finally:
        await client.aclose()
