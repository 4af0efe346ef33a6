"""The limits through the job store: :mod:`jobqueue.limits.sql`, batched.

The calls that arrive while a batch is being written wait and go together in the next one:
one transaction (one fsync on SQLite) for a burst of acquisitions and releases from the whole
fleet, not one each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from jobqueue.limits.backend import Grant, LimitOp, Release, Renew, Slot, SlotRequest
from jobqueue.store import Store

MAX_BATCH_OPS = 500

_Waiting = tuple[LimitOp, "asyncio.Future[Grant]"]


class StoreLimits:
    """Slots and buckets in ``store`` (the API's job store; several replicas may share it)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def acquire(self, request: SlotRequest) -> Grant:
        """Take a slot and a start, both or neither."""
        return await self._apply(request)

    async def release(self, slots: Sequence[Slot]) -> None:
        """Give slots back."""
        if slots:
            await self._apply(Release(tuple(slots)))

    async def renew(self, slots: Sequence[Slot], lease_s: float) -> None:
        """Push the leases of slots still held."""
        if slots:
            await self._apply(Renew(tuple(slots), lease_s))

    async def close(self) -> None:
        """The store is closed by its owner; a batch under way is let finish."""
        if self._writer is not None:
            await asyncio.wait([self._writer])

    async def _apply(self, op: LimitOp) -> Grant:
        done: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._waiting.append((op, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await done

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH_OPS]
                del self._waiting[:MAX_BATCH_OPS]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            grants = await self._store.apply_limits([op for op, _ in batch])
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), grant in zip(batch, grants, strict=True):
            if not done.done():
                done.set_result(grant)
