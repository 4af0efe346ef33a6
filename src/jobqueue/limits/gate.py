"""The worker's side of the limits: ask before a limited job runs, give the slot back after.

:meth:`LimitGate.enter` answers at once for a job that nothing limits (no call, no cost);
for a limited one it asks the backend (the API over gRPC, or this process's memory without
one) and gives a :class:`Pass` (run it, then :meth:`LimitGate.leave`) or a :class:`Deferral`
(put it back unrun, after a jittered backoff). Slots are leased: while their jobs run, the gate
renews them every third of the lease; a worker that dies stops renewing, and its slots expire.
Releases go out in the background, batched, so the worker's own slot is free at once. A name
the API just said is full is taken as full for :data:`FULL_MEMORY_S` without asking again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from jobqueue.errors import JobqueueError
from jobqueue.limits.backend import LimitBackend, Slot, SlotRequest, clamp_lease_s
from jobqueue.limits.policy import Demand, JobLimit, LimitPolicy, deferral_delay_s, demand

log = logging.getLogger("jobqueue.limits")

DEFAULT_LEASE_S = 30.0
FULL_MEMORY_S = 0.025
"""After the API said a name is full, how long the gate defers that name's other jobs without
asking again (unless one of its jobs ended here meanwhile, freeing a slot)."""


@dataclass(frozen=True, slots=True)
class Pass:
    """The job may run; ``slot`` (when its limit counts concurrency) is held until it ends."""

    demand: Demand
    slot: Slot | None


@dataclass(frozen=True, slots=True)
class Deferral:
    """The job is over its limit: put it back, as ``limit`` says, after ``delay_s``."""

    reason: str
    delay_s: float
    limit: JobLimit


class LimitGate:
    """The limits as one worker (``holder``) sees them, over ``backend``."""

    def __init__(
        self, backend: LimitBackend, holder: str, lease_s: float = DEFAULT_LEASE_S
    ) -> None:
        self._backend = backend
        self._holder = holder
        self._lease_s = clamp_lease_s(lease_s)
        self._held: set[Slot] = set()
        self._to_release: list[Slot] = []
        self._releasing: asyncio.Task[None] | None = None
        self._renewing: asyncio.Task[None] | None = None
        self._full_until: dict[str, float] = {}  # name → until when it is taken as full

    async def enter(
        self,
        job_id: str,
        job_type: str,
        payload: object,
        limit: JobLimit | None,
        policy: LimitPolicy | None,
    ) -> Pass | Deferral | None:
        """None when nothing limits the job; else a pass or a deferral. What the handler's
        key function raises propagates."""
        wanted = demand(job_type, payload, limit, policy)
        if wanted is None:
            return None
        if self._known_full(wanted.name):
            return _deferral(limit, _reason(wanted, "concurrency"), 0.0)
        request = SlotRequest(
            wanted.name,
            job_id,
            self._holder,
            wanted.concurrency,
            wanted.rate_per_s,
            self._lease_s,
        )
        try:
            grant = await self._backend.acquire(request)
        except JobqueueError as exc:
            log.warning("limits unavailable (%s): job %s deferred", exc, job_id)
            return _deferral(limit, "limits unavailable: the API did not answer", 0.0)
        if not grant.granted:
            if grant.reason == "concurrency":
                self._full_until[wanted.name] = time.monotonic() + FULL_MEMORY_S
            return _deferral(limit, _reason(wanted, grant.reason), grant.retry_after_s)
        slot = (wanted.name, job_id) if wanted.concurrency is not None else None
        if slot is not None:
            self._held.add(slot)
            self._keep_renewing()
        return Pass(wanted, slot)

    def leave(self, passed: Pass) -> None:
        """The job ended (however): give its slot back, in the background."""
        if passed.slot is None:
            return
        self._held.discard(passed.slot)
        self._full_until.pop(passed.demand.name, None)
        self._to_release.append(passed.slot)
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.create_task(self._release_pending())

    async def _release_pending(self) -> None:
        while self._to_release:
            batch, self._to_release = self._to_release, []
            try:
                await self._backend.release(batch)
            except JobqueueError as exc:  # their leases end them
                log.warning("releasing %d limit slot(s) failed: %s", len(batch), exc)

    def _known_full(self, name: str) -> bool:
        until = self._full_until.get(name)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._full_until[name]
        return False

    def _keep_renewing(self) -> None:
        if self._renewing is None:
            self._renewing = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            held = sorted(self._held)
            try:
                await self._backend.renew(held, self._lease_s)
            except JobqueueError as exc:
                log.warning("renewing %d limit slot(s) failed: %s", len(held), exc)

    async def close(self) -> None:
        """Send the releases still pending, stop renewing, close the backend."""
        self._to_release.extend(self._held)
        self._held.clear()
        if self._to_release:
            await self._release_pending()
        elif self._releasing is not None:
            await self._releasing
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        await self._backend.close()


def _deferral(limit: JobLimit | None, reason: str, retry_after_s: float) -> Deferral:
    counted = (limit or JobLimit()).deferred()
    return Deferral(reason, deferral_delay_s(counted.deferrals - 1, retry_after_s), counted)


def _reason(wanted: Demand, refused: str) -> str:
    if refused == "rate":
        return f"rate limit: {wanted.rate_per_s:g} starts/s of {wanted.shown}"
    return f"concurrency limit: {wanted.concurrency} of {wanted.shown} running"
