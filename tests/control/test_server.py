"""The gRPC WorkerService against our own generated client: answers, validation, expiry."""

from __future__ import annotations

from typing import TypeAlias

import grpc
import grpc.aio
import pytest

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.server import ControlServer, status_for
from jobqueue.errors import (
    BrokerUnavailable,
    ConfigError,
    InvalidWorker,
    JobqueueError,
    NotFound,
    RegistryUnavailable,
)
from jobqueue.registry import Command, WorkerReport, WorkerState
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.registry.redis import RedisRegistry
from jobqueue.testing.registry import FakeClock
from tests.control.conftest import TTL_S
from tests.control.polling import eventually

Stub: TypeAlias = "pb_grpc.WorkerServiceAsyncStub"  # the class exists in the stubs only
TIMEOUT_S = 5.0


async def _listed(stub: Stub) -> list[str]:
    reply = await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S)
    return [worker.worker_id for worker in reply.workers]


async def test_register_answers_ok_and_heartbeat_answers_alive(stub: Stub) -> None:
    registered = await stub.Register(pb.RegisterRequest(worker_id="w1"), timeout=TIMEOUT_S)
    beat = await stub.Heartbeat(pb.HeartbeatRequest(worker_id="w1", load=1), timeout=TIMEOUT_S)
    assert registered.status == "ok"
    assert (beat.status, beat.command) == ("alive", pb.COMMAND_NONE)
    assert await _listed(stub) == ["w1"]


async def test_heartbeat_from_an_unknown_id_registers_it(stub: Stub) -> None:
    beat = await stub.Heartbeat(pb.HeartbeatRequest(worker_id="ghost"), timeout=TIMEOUT_S)
    assert beat.status == "alive"
    assert await _listed(stub) == ["ghost"]


async def test_list_reports_last_seen_in_whole_unix_seconds_and_the_details(
    stub: Stub, clock: FakeClock
) -> None:
    clock.now = 1_750_000_000.75
    details = pb.WorkerDetails(
        concurrency=8,
        job_types=["email"],
        queue="jobs",
        host="node-1",
        pid=42,
        version="1.0",
        started_at_unix=1_749_999_000.5,
        processed=5,
        failed=1,
        job_ids=["j1", "j2"],
        state=pb.WORKER_STATE_PAUSED,
    )
    request = pb.HeartbeatRequest(worker_id="w1", load=2, details=details)
    await stub.Heartbeat(request, timeout=TIMEOUT_S)
    clock.advance(2)
    [worker] = (await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S)).workers
    assert (worker.worker_id, worker.load, worker.last_seen_unix) == ("w1", 2, 1_750_000_000)
    assert worker.last_seen_unix_precise == 1_750_000_000.75
    assert worker.seen_ago_s == 2.0
    assert worker.details == details


async def test_get_worker_answers_one_worker_or_not_found(stub: Stub) -> None:
    await stub.Register(pb.RegisterRequest(worker_id="w1"), timeout=TIMEOUT_S)
    worker = await stub.GetWorker(pb.GetWorkerRequest(worker_id="w1"), timeout=TIMEOUT_S)
    assert worker.worker_id == "w1"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetWorker(pb.GetWorkerRequest(worker_id="nobody"), timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nobody" in (caught.value.details() or "")


async def test_deregister_removes_the_worker_and_answers_ok_even_when_gone(stub: Stub) -> None:
    await stub.Register(pb.RegisterRequest(worker_id="w1"), timeout=TIMEOUT_S)
    for _ in range(2):
        reply = await stub.Deregister(pb.DeregisterRequest(worker_id="w1"), timeout=TIMEOUT_S)
        assert reply.status == "ok"
    assert await _listed(stub) == []


async def test_a_silent_worker_expires_after_the_ttl(stub: Stub, clock: FakeClock) -> None:
    await stub.Register(pb.RegisterRequest(worker_id="silent"), timeout=TIMEOUT_S)
    await stub.Register(pb.RegisterRequest(worker_id="chatty"), timeout=TIMEOUT_S)
    clock.advance(TTL_S - 1)
    await stub.Heartbeat(pb.HeartbeatRequest(worker_id="chatty"), timeout=TIMEOUT_S)
    assert await _listed(stub) == ["chatty", "silent"]
    clock.advance(2)
    assert await _listed(stub) == ["chatty"]
    clock.advance(TTL_S)
    assert await _listed(stub) == []


class _SweepSpy(InMemoryRegistry):
    """The in-memory registry, recording what each sweep removed."""

    removed: list[int]

    async def sweep(self) -> int:
        removed = await super().sweep()
        self.removed.append(removed)
        return removed


async def test_the_server_sweeps_expired_workers_periodically(clock: FakeClock) -> None:
    registry = _SweepSpy(ttl_s=TTL_S, clock=clock, wall_clock=clock)
    registry.removed = []
    await registry.register("w1", WorkerReport())
    await registry.register("w2", WorkerReport())
    clock.advance(TTL_S + 1)

    async def swept() -> bool:
        return sum(registry.removed) == 2

    async with ControlServer(registry, "127.0.0.1:0", sweep_s=0.05):
        await eventually(swept, what="a sweep removing both workers")


@pytest.mark.parametrize(
    "request_",
    [
        pb.HeartbeatRequest(worker_id=""),
        pb.HeartbeatRequest(worker_id="x" * 129),
        pb.HeartbeatRequest(worker_id="w1", load=-1),
        pb.HeartbeatRequest(worker_id="w1", details=pb.WorkerDetails(concurrency=-1)),
        pb.HeartbeatRequest(worker_id="w1", details=pb.WorkerDetails(processed=-5)),
    ],
    ids=["empty id", "129-char id", "negative load", "negative concurrency", "negative count"],
)
async def test_nonsense_heartbeats_are_invalid_argument(
    stub: Stub, request_: pb.HeartbeatRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Heartbeat(request_, timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details()
    assert await _listed(stub) == []


@pytest.mark.parametrize(
    "request_",
    [
        pb.RegisterRequest(worker_id=""),
        pb.RegisterRequest(worker_id="é" * 129),
        pb.RegisterRequest(worker_id="w1", load=-3),
    ],
    ids=["empty id", "129-char id", "negative load"],
)
async def test_nonsense_registrations_are_invalid_argument(
    stub: Stub, request_: pb.RegisterRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Register(request_, timeout=TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await _listed(stub) == []


async def test_a_128_character_id_is_accepted(stub: Stub) -> None:
    reply = await stub.Register(pb.RegisterRequest(worker_id="x" * 128), timeout=TIMEOUT_S)
    assert reply.status == "ok"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (Command.PAUSE, pb.COMMAND_PAUSE),
        (Command.RESUME, pb.COMMAND_RESUME),
        (Command.DRAIN, pb.COMMAND_DRAIN),
    ],
)
async def test_a_command_rides_on_the_next_heartbeat_reply_once(
    stub: Stub, registry: InMemoryRegistry, command: Command, expected: int
) -> None:
    await stub.Register(pb.RegisterRequest(worker_id="w1"), timeout=TIMEOUT_S)
    await registry.send_command("w1", command)
    worker = await stub.GetWorker(pb.GetWorkerRequest(worker_id="w1"), timeout=TIMEOUT_S)
    assert worker.pending_command == expected
    first = await stub.Heartbeat(pb.HeartbeatRequest(worker_id="w1"), timeout=TIMEOUT_S)
    second = await stub.Heartbeat(pb.HeartbeatRequest(worker_id="w1"), timeout=TIMEOUT_S)
    assert (first.command, second.command) == (expected, pb.COMMAND_NONE)


async def test_a_worker_reporting_no_state_is_shown_active(
    stub: Stub, registry: InMemoryRegistry
) -> None:
    await stub.Heartbeat(pb.HeartbeatRequest(worker_id="w1", load=1), timeout=TIMEOUT_S)
    info = await registry.get("w1")
    assert info is not None
    assert info.state is WorkerState.ACTIVE


@pytest.mark.redis
async def test_an_unreachable_redis_registry_is_unavailable() -> None:
    registry = RedisRegistry.from_url("redis://127.0.0.1:1/0")
    async with (
        ControlServer(registry, "127.0.0.1:0") as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = pb_grpc.WorkerServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Heartbeat(pb.HeartbeatRequest(worker_id="w1"), timeout=TIMEOUT_S)
    await registry.close()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert caught.value.details() == "worker registry unavailable"


async def test_a_taken_address_is_a_config_error(server: ControlServer) -> None:
    with pytest.raises(ConfigError, match="cannot listen"):
        await ControlServer(InMemoryRegistry(), f"127.0.0.1:{server.port}").start()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidWorker("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (RegistryUnavailable("x"), grpc.StatusCode.UNAVAILABLE),
        (BrokerUnavailable("x"), grpc.StatusCode.INTERNAL),
        (JobqueueError("x"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_error_maps_to_one_grpc_status(error: JobqueueError, code: grpc.StatusCode) -> None:
    assert status_for(error) == code
