"""The control plane's slot calls: granted, refused with the reason, nonsense refused."""

from __future__ import annotations

import grpc
import pytest

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc


async def test_slots_are_granted_up_to_the_limit_then_refused(
    stub: pb_grpc.WorkerServiceAsyncStub,
) -> None:
    def ask(slot: str) -> pb.AcquireSlotRequest:
        return pb.AcquireSlotRequest(
            worker_id="w1", name="sync", slot_id=slot, concurrency=1, lease_s=30
        )

    assert (await stub.AcquireSlot(ask("a"))).granted
    refused = await stub.AcquireSlot(ask("b"))
    assert (refused.granted, refused.reason) == (False, "concurrency")
    slots = pb.SlotsRequest(worker_id="w1", slots=[pb.LimitSlot(name="sync", slot_id="a")])
    assert (await stub.ReleaseSlots(slots)).status == "ok"
    assert (await stub.AcquireSlot(ask("b"))).granted


@pytest.mark.parametrize(
    "request_",
    [
        pb.AcquireSlotRequest(worker_id="w1", name="sync", slot_id="a"),
        pb.AcquireSlotRequest(worker_id="w1", name="", slot_id="a", concurrency=1),
        pb.AcquireSlotRequest(worker_id="w1", name="sync", slot_id="a", rate_per_s=-1),
    ],
)
async def test_a_slot_request_that_is_nonsense_is_invalid_argument(
    stub: pb_grpc.WorkerServiceAsyncStub, request_: pb.AcquireSlotRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.AcquireSlot(request_)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
