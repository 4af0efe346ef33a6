"""The limits of one API process, in its memory (no registry on Redis and no job store)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from jobqueue.limits.backend import FULL, GRANTED, Grant, Slot, SlotRequest, bucket_take


class MemoryLimits:
    """Slots and buckets in dicts; ``clock`` (Unix seconds) for tests."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._slots: dict[str, dict[str, float]] = {}  # name → slot id → lease end
        self._buckets: dict[str, tuple[float, float]] = {}  # name → (tokens, updated at)

    async def acquire(self, request: SlotRequest) -> Grant:
        """Take a slot and a start, both or neither."""
        now = self._clock()
        held = self._live(request.name, now) if request.concurrency is not None else None
        if held is not None and request.slot_id in held:
            held[request.slot_id] = now + request.lease_s
            return GRANTED
        if (
            held is not None
            and request.concurrency is not None
            and len(held) >= request.concurrency
        ):
            return FULL
        if request.rate_per_s is not None:
            tokens, updated_at = self._buckets.get(request.name, (None, None))
            left, wait_s = bucket_take(tokens, updated_at, now, request.rate_per_s)
            if left < 0:
                return Grant(False, "rate", wait_s)
            self._buckets[request.name] = (left, now)
        if held is not None:
            held[request.slot_id] = now + request.lease_s
        return GRANTED

    def _live(self, name: str, now: float) -> dict[str, float]:
        held = self._slots.setdefault(name, {})
        for slot_id in [slot_id for slot_id, until in held.items() if until <= now]:
            del held[slot_id]
        return held

    async def release(self, slots: Sequence[Slot]) -> None:
        """Give slots back."""
        for name, slot_id in slots:
            held = self._slots.get(name)
            if held is not None:
                held.pop(slot_id, None)
                if not held:
                    del self._slots[name]

    async def renew(self, slots: Sequence[Slot], lease_s: float) -> None:
        """Push the leases of slots still held."""
        now = self._clock()
        for name, slot_id in slots:
            held = self._slots.get(name)
            if held is not None and slot_id in held and held[slot_id] > now:
                held[slot_id] = now + lease_s

    async def close(self) -> None:
        """Nothing to release."""

    def held(self, name: str) -> int:
        """How many live slots ``name`` has (for tests and inspection)."""
        return len(self._live(name, self._clock()))
