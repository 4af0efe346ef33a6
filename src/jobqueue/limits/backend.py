"""The backends' contract: take a slot (and a start) under a limit's name, give it back, renew it.

One implementation per place the counters live: :class:`~jobqueue.limits.memory.MemoryLimits`
(one API process), :class:`~jobqueue.limits.redis.RedisLimits` (a Lua script: one atomic step
whatever the number of API replicas) and :class:`~jobqueue.limits.store.StoreLimits` (a row
lock in the job store). Each slot is leased: it expires ``lease_s`` after it was taken or last
renewed, so the slots of a worker that died free themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MIN_LEASE_S = 1.0
MAX_LEASE_S = 600.0


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """A worker (``holder``) asks to start job ``slot_id`` under the limit ``name``."""

    name: str
    slot_id: str
    holder: str
    concurrency: int | None
    rate_per_s: float | None
    lease_s: float


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer: ``granted``, else ``reason`` (``concurrency`` or ``rate``) and, for a rate,
    when the bucket next has a start (``retry_after_s``)."""

    granted: bool
    reason: str = ""
    retry_after_s: float = 0.0


GRANTED = Grant(True)
FULL = Grant(False, "concurrency")

Slot = tuple[str, str]
"""A slot held: (limit name, slot id)."""


@dataclass(frozen=True, slots=True)
class Release:
    """Give ``slots`` back."""

    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class Renew:
    """Push the leases of ``slots`` to ``lease_s`` from now."""

    slots: tuple[Slot, ...]
    lease_s: float


LimitOp = SlotRequest | Release | Renew
"""One step of a batch the job store applies in one transaction."""


class LimitBackend(Protocol):
    """Where the fleet's slots and buckets live."""

    async def acquire(self, request: SlotRequest) -> Grant:
        """Take a slot (when the request has a concurrency) and a start (when it has a rate),
        both or neither. A slot already held by the same id is renewed and granted again
        (a request repeated after a lost answer)."""

    async def release(self, slots: Sequence[Slot]) -> None:
        """Give slots back; one not held is ignored."""

    async def renew(self, slots: Sequence[Slot], lease_s: float) -> None:
        """Push the leases of slots still held to ``lease_s`` from now; one gone stays gone."""

    async def close(self) -> None:
        """Release the backend's connections."""


def bucket_take(
    tokens: float | None, updated_at: float | None, now: float, rate_per_s: float
) -> tuple[float, float]:
    """A token bucket holding one second of starts (at least one), refilled at ``rate_per_s``:
    the tokens after a start is taken at ``now`` (negative: none to take), and how long until
    there is one."""
    capacity = max(1.0, rate_per_s)
    if tokens is None or updated_at is None:
        tokens, updated_at = capacity, now
    tokens = min(capacity, tokens + max(0.0, now - updated_at) * rate_per_s)
    if tokens >= 1.0:
        return tokens - 1.0, 0.0
    return -1.0, (1.0 - tokens) / rate_per_s


def clamp_lease_s(lease_s: float) -> float:
    """A lease within :data:`MIN_LEASE_S` and :data:`MAX_LEASE_S`."""
    if not math.isfinite(lease_s):
        return MAX_LEASE_S
    return min(MAX_LEASE_S, max(MIN_LEASE_S, lease_s))
