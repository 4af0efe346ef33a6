"""Which job types the live workers of a queue serve: for submissions and for workers' replies.

A worker counts while it takes jobs (active or paused), not while it drains or after. A worker
that names no types (the original worker does not) may serve any type; one that names no queue
(the original worker, again) may consume any queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jobqueue.registry import Registry, WorkerInfo, WorkerState

__all__ = ["FLEET_REFRESH_S", "Fleet", "ServedTypes", "served_types"]

FLEET_REFRESH_S = 1.0
"""How long a look at the registry is reused: a submission or a heartbeat pays for a registry
read at most once a second, and a worker that just registered is counted within that."""

_TAKING_JOBS = (WorkerState.ACTIVE, WorkerState.PAUSED)


@dataclass(frozen=True, slots=True)
class ServedTypes:
    """The job types some live worker has a handler for; ``any_type`` when one does not say."""

    types: frozenset[str] = frozenset()
    any_type: bool = False

    def serves(self, job_type: str) -> bool:
        """Whether some live worker may run a job of ``job_type``."""
        return self.any_type or job_type in self.types


def served_types(workers: Iterable[WorkerInfo], queue: str) -> ServedTypes:
    """What the workers taking jobs from ``queue`` serve, among ``workers``."""
    types: set[str] = set()
    any_type = False
    for info in workers:
        report = info.report
        if report.state not in _TAKING_JOBS or report.queue not in ("", queue):
            continue
        if not report.job_types:
            any_type = True
        types.update(report.job_types)
    return ServedTypes(frozenset(types), any_type)


class Fleet:
    """The registry's workers, read at most once every ``refresh_s``, by queue served."""

    def __init__(
        self,
        registry: Registry,
        refresh_s: float = FLEET_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._refresh_s = refresh_s
        self._clock = clock
        self._workers: list[WorkerInfo] = []
        self._served: dict[str, ServedTypes] = {}  # by queue, for the workers read last
        self._read_at: float | None = None
        self._reading: asyncio.Task[list[WorkerInfo]] | None = None

    async def served(self, queue: str) -> ServedTypes:
        """What the live workers of ``queue`` serve (registry errors propagate)."""
        workers = await self._fresh_workers()
        served = self._served.get(queue)
        if served is None:
            served = self._served[queue] = served_types(workers, queue)
        return served

    async def _fresh_workers(self) -> list[WorkerInfo]:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._refresh_s:
            return self._workers
        if self._reading is None or self._reading.done():  # one read shared by every caller
            self._reading = asyncio.ensure_future(self._registry.workers())
        workers = await asyncio.shield(self._reading)
        if workers is not self._workers:
            self._workers, self._served, self._read_at = workers, {}, now
        return workers
