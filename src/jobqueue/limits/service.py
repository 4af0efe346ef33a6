"""The API's side of the limits: the control plane's ``AcquireSlot``, ``ReleaseSlots`` and
``RenewSlots`` calls, checked and answered from a :class:`LimitBackend`."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from jobqueue.control import worker_pb2 as pb
from jobqueue.errors import InvalidLimit
from jobqueue.limits.backend import LimitBackend, Slot, SlotRequest, clamp_lease_s
from jobqueue.limits.policy import MAX_CONCURRENCY, MAX_KEY_CHARS, MAX_RATE_PER_S
from jobqueue.names import MAX_TYPE_LENGTH
from jobqueue.registry import check_worker_id
from jobqueue.store import Store

log = logging.getLogger("jobqueue.limits")

MAX_NAME_CHARS = MAX_TYPE_LENGTH + 1 + MAX_KEY_CHARS
MAX_SLOT_ID_CHARS = 200
MAX_SLOTS_PER_CALL = 1000


class LimitService:
    """Answers the workers' slot calls from ``backend``; ``InvalidLimit`` for nonsense."""

    def __init__(self, backend: LimitBackend) -> None:
        self.backend = backend

    async def acquire(self, request: pb.AcquireSlotRequest) -> pb.AcquireSlotResponse:
        """Take a slot (and a start) for the worker's job, or say why not."""
        check_worker_id(request.worker_id)
        _check_slot(request.name, request.slot_id)
        if not 0 <= request.concurrency <= MAX_CONCURRENCY:
            raise InvalidLimit(f"concurrency: must be from 0 (none) to {MAX_CONCURRENCY}")
        rate = request.rate_per_s
        if not math.isfinite(rate) or not 0 <= rate <= MAX_RATE_PER_S:
            raise InvalidLimit(f"rate_per_s: must be from 0 (none) to {MAX_RATE_PER_S:g}")
        if request.concurrency == 0 and rate == 0:
            raise InvalidLimit("a slot request needs a concurrency or a rate_per_s")
        grant = await self.backend.acquire(
            SlotRequest(
                name=request.name,
                slot_id=request.slot_id,
                holder=request.worker_id,
                concurrency=request.concurrency or None,
                rate_per_s=rate or None,
                lease_s=clamp_lease_s(request.lease_s),
            )
        )
        return pb.AcquireSlotResponse(
            granted=grant.granted, reason=grant.reason, retry_after_s=grant.retry_after_s
        )

    async def release(self, request: pb.SlotsRequest) -> pb.SlotsResponse:
        """Give the worker's slots back."""
        await self.backend.release(_slots(request))
        return pb.SlotsResponse(status="ok")

    async def renew(self, request: pb.SlotsRequest) -> pb.SlotsResponse:
        """Push the leases of the worker's slots."""
        await self.backend.renew(_slots(request), clamp_lease_s(request.lease_s))
        return pb.SlotsResponse(status="ok")

    async def close(self) -> None:
        """Close the backend."""
        await self.backend.close()


def _slots(request: pb.SlotsRequest) -> Sequence[Slot]:
    check_worker_id(request.worker_id)
    if len(request.slots) > MAX_SLOTS_PER_CALL:
        raise InvalidLimit(f"slots: at most {MAX_SLOTS_PER_CALL} a call")
    for slot in request.slots:
        _check_slot(slot.name, slot.slot_id)
    return [(slot.name, slot.slot_id) for slot in request.slots]


def _check_slot(name: str, slot_id: str) -> None:
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidLimit(f"name: must be 1 to {MAX_NAME_CHARS} characters")
    if not 1 <= len(slot_id) <= MAX_SLOT_ID_CHARS:
        raise InvalidLimit(f"slot_id: must be 1 to {MAX_SLOT_ID_CHARS} characters")


def backend_for(registry_url: str, store: Store | None) -> LimitBackend:
    """Where the API keeps the fleet's limits: in Redis when the registry is there, else in
    the job store, else (no store) in its own memory."""
    scheme = registry_url.split("://", 1)[0].lower() if "://" in registry_url else ""
    if scheme in ("redis", "rediss", "unix"):
        from jobqueue.limits.redis import RedisLimits

        return RedisLimits.from_url(registry_url)
    if store is not None:
        from jobqueue.limits.store import StoreLimits

        return StoreLimits(store)
    from jobqueue.limits.memory import MemoryLimits

    return MemoryLimits()
