"""The worker's link to the API's limits: the control plane's slot calls over their own channel
(opened on the first limited job, so a fleet with no limits never opens it)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import grpc.aio

from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.errors import RegistryUnavailable
from jobqueue.limits.backend import Grant, Slot, SlotRequest

RPC_TIMEOUT_S = 2.0


class GrpcLimits:
    """A :class:`~jobqueue.limits.backend.LimitBackend` that asks the API at ``target``;
    a call that fails raises :class:`RegistryUnavailable`."""

    def __init__(
        self,
        target: str,
        worker_id: str,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
    ) -> None:
        self._target = target
        self._worker_id = worker_id
        self._credentials = credentials
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.WorkerServiceAsyncStub | None = None

    def _service(self) -> pb_grpc.WorkerServiceAsyncStub:
        if self._stub is None:
            self._channel = (
                grpc.aio.insecure_channel(self._target)
                if self._credentials is None
                else grpc.aio.secure_channel(self._target, self._credentials)
            )
            self._stub = pb_grpc.WorkerServiceStub(self._channel)
        return self._stub

    async def acquire(self, request: SlotRequest) -> Grant:
        """Ask for a slot (and a start)."""
        message = pb.AcquireSlotRequest(
            worker_id=self._worker_id,
            name=request.name,
            slot_id=request.slot_id,
            concurrency=request.concurrency or 0,
            rate_per_s=request.rate_per_s or 0.0,
            lease_s=request.lease_s,
        )
        try:
            reply = await self._service().AcquireSlot(
                message, timeout=RPC_TIMEOUT_S, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            raise RegistryUnavailable(f"AcquireSlot: {exc.code().name}: {exc.details()}") from None
        return Grant(reply.granted, reply.reason, reply.retry_after_s)

    async def release(self, slots: Sequence[Slot]) -> None:
        """Give slots back."""
        await self._slots_call("ReleaseSlots", slots, 0.0)

    async def renew(self, slots: Sequence[Slot], lease_s: float) -> None:
        """Push the leases of slots still held."""
        await self._slots_call("RenewSlots", slots, lease_s)

    async def _slots_call(self, method: str, slots: Sequence[Slot], lease_s: float) -> None:
        if not slots:
            return
        message = pb.SlotsRequest(
            worker_id=self._worker_id,
            slots=[pb.LimitSlot(name=name, slot_id=slot_id) for name, slot_id in slots],
            lease_s=lease_s,
        )
        call = getattr(self._service(), method)
        try:
            await call(message, timeout=RPC_TIMEOUT_S, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise RegistryUnavailable(f"{method}: {exc.code().name}: {exc.details()}") from None

    async def close(self) -> None:
        """Close the channel, if it was opened."""
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None
