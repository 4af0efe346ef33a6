"""What workers send is bounded at the gRPC door: lengths, characters, counts, enum values, the
registry's size, and the size of a ListWorkers reply."""

from __future__ import annotations

from typing import TypeAlias

import grpc
import grpc.aio
import pytest

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.server import ControlServer
from jobqueue.registry import WorkerReport
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.registry.page import MAX_PAGE_WORKERS

Stub: TypeAlias = "pb_grpc.WorkerServiceAsyncStub"  # the class exists in the stubs only
TIMEOUT_S = 5.0

_BAD_DETAILS = {
    "host of 3.9 MB": (pb.WorkerDetails(host="h" * 3_900_000), "details.host"),
    "host of 256": (pb.WorkerDetails(host="h" * 256), "details.host"),
    "host with a newline": (pb.WorkerDetails(host="node\nINFO forged"), "details.host"),
    "version of 65": (pb.WorkerDetails(version="1" * 65), "details.version"),
    "queue with ESC": (pb.WorkerDetails(queue="jobs\x1b[31m"), "details.queue"),
    "queue of 201": (pb.WorkerDetails(queue="q" * 201), "details.queue"),
    "job type of 201": (pb.WorkerDetails(job_types=["t" * 201]), "details.job_types[0]"),
    "blank job type": (pb.WorkerDetails(job_types=["ok", " "]), "details.job_types[1]"),
    "job type with a control character": (
        pb.WorkerDetails(job_types=["e\x07mail"]),
        "details.job_types[0]",
    ),
    "1001 job types": (
        pb.WorkerDetails(job_types=[f"t{n}" for n in range(1001)]),
        "details.job_types",
    ),
    "job id with a newline": (pb.WorkerDetails(job_ids=["a\nb"]), "details.job_ids[0]"),
    "unknown state": (pb.WorkerDetails(state=99), "details.state"),  # type: ignore[arg-type]
    "broker with a NUL": (pb.WorkerDetails(broker="sqlite:///x\x00"), "details.broker"),
}

_BAD_IDS = {
    "newline": "a\nforged",
    "ANSI escape": "a b\x1b[31mred",
    "slash": "0/drain",
    "dot dot": "..",
    "129 characters": "x" * 129,
}


def _refusal(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> tuple[object, str]:
    return caught.value.code(), caught.value.details() or ""


async def _listed(stub: Stub) -> list[str]:
    reply = await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S)
    return [worker.worker_id for worker in reply.workers]


@pytest.mark.parametrize(("details", "field"), _BAD_DETAILS.values(), ids=_BAD_DETAILS.keys())
async def test_register_and_heartbeat_refuse_a_bad_field_naming_it(
    stub: Stub, details: pb.WorkerDetails, field: str
) -> None:
    requests = (
        (stub.Register, pb.RegisterRequest(worker_id="w1", details=details)),
        (stub.Heartbeat, pb.HeartbeatRequest(worker_id="w1", details=details)),
    )
    for call, request in requests:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, timeout=TIMEOUT_S)  # type: ignore[operator]
        code, message = _refusal(caught)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert message.startswith(f"{field}: "), message
        assert len(message) < 200
    assert await _listed(stub) == []


@pytest.mark.parametrize("worker_id", _BAD_IDS.values(), ids=_BAD_IDS.keys())
async def test_every_rpc_refuses_a_bad_worker_id_naming_it(stub: Stub, worker_id: str) -> None:
    requests = (
        (stub.Register, pb.RegisterRequest(worker_id=worker_id)),
        (stub.Heartbeat, pb.HeartbeatRequest(worker_id=worker_id)),
        (stub.Deregister, pb.DeregisterRequest(worker_id=worker_id)),
        (stub.GetWorker, pb.GetWorkerRequest(worker_id=worker_id)),
    )
    for call, request in requests:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(request, timeout=TIMEOUT_S)  # type: ignore[operator]
        code, message = _refusal(caught)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert message.startswith("worker_id: "), message
        assert "\n" not in message
        assert "\x1b" not in message
    assert await _listed(stub) == []


async def test_a_heartbeat_with_an_over_long_cursor_is_refused(stub: Stub) -> None:
    request = pb.HeartbeatRequest(worker_id="w1", cancels_cursor="c" * 129)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Heartbeat(request, timeout=TIMEOUT_S)
    assert _refusal(caught)[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert _refusal(caught)[1].startswith("cancels_cursor: ")


async def test_the_longest_fields_allowed_are_accepted(stub: Stub) -> None:
    details = pb.WorkerDetails(
        host="h" * 255,
        version="v" * 64,
        queue="q" * 200,
        job_types=[f"{n:0200d}" for n in range(1000)],
        job_ids=["j" * 128],
        state=pb.WORKER_STATE_DRAINING,
        broker="sqlite:///" + "p" * 4000,
    )
    reply = await stub.Register(
        pb.RegisterRequest(worker_id="w" * 128, details=details), timeout=TIMEOUT_S
    )
    assert reply.status == "ok"


async def test_a_new_worker_past_the_registry_limit_is_resource_exhausted() -> None:
    registry = InMemoryRegistry(max_workers=2)
    async with (
        ControlServer(registry, "127.0.0.1:0") as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = pb_grpc.WorkerServiceStub(channel)
        for worker_id in ("a", "b"):
            await stub.Register(pb.RegisterRequest(worker_id=worker_id), timeout=TIMEOUT_S)
        for call, request in (
            (stub.Register, pb.RegisterRequest(worker_id="c")),
            (stub.Heartbeat, pb.HeartbeatRequest(worker_id="c")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(request, timeout=TIMEOUT_S)  # type: ignore[operator]
            code, message = _refusal(caught)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limit of 2 workers" in message
        again = await stub.Register(pb.RegisterRequest(worker_id="a"), timeout=TIMEOUT_S)
        beat = await stub.Heartbeat(pb.HeartbeatRequest(worker_id="b"), timeout=TIMEOUT_S)
        assert (again.status, beat.status) == ("ok", "alive")
        assert await _listed(stub) == ["a", "b"]


async def test_list_workers_holds_at_most_a_page_of_workers_and_says_so(
    stub: Stub, registry: InMemoryRegistry
) -> None:
    ids = [f"w{n:05d}" for n in range(MAX_PAGE_WORKERS + 1)]
    for worker_id in ids:
        await registry.register(worker_id, WorkerReport())
    reply = await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S)
    assert [w.worker_id for w in reply.workers] == ids[:MAX_PAGE_WORKERS]
    assert reply.truncated is True
    await registry.deregister(ids[0])
    reply = await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S)
    assert (len(reply.workers), reply.truncated) == (MAX_PAGE_WORKERS, False)


async def test_list_workers_stays_readable_however_large_the_workers_reports(
    stub: Stub, registry: InMemoryRegistry
) -> None:
    big = WorkerReport(job_types=tuple(f"{n:0200d}" for n in range(1000)))
    for n in range(25):  # about 5 MB of reports in all
        await registry.register(f"w{n:02d}", big)
    reply = await stub.ListWorkers(pb.Empty(), timeout=TIMEOUT_S)
    assert reply.truncated is True
    assert 0 < len(reply.workers) < 25
    assert reply.ByteSize() < 4 * 1024 * 1024  # every client's default receive limit
