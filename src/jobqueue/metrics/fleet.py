"""The queue's depth and the live workers, read from the broker and the registry at scrape
time, at most once per ``ttl_s``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from jobqueue.brokers import Broker, QueueDepth
from jobqueue.errors import JobqueueError
from jobqueue.registry import Registry, WorkerInfo

log = logging.getLogger("jobqueue.metrics")

FLEET_TTL_S = 1.0


@dataclass(frozen=True, slots=True)
class FleetView:
    """What the scrape shows of the queue and its workers; None where it could not be read."""

    depth: QueueDepth | None = None
    workers: list[WorkerInfo] | None = None
    queue: str = ""
    read_at_unix: float = field(default_factory=time.time)

    def depth_by_state(self) -> dict[str, int]:
        """The depth by state, the states that could be read: ready, scheduled and dead from
        the broker, in_flight from the workers' reports."""
        found: dict[str, int] = {}
        if self.depth is not None:
            found |= {
                "ready": self.depth.ready,
                "scheduled": self.depth.delayed,
                "dead": self.depth.dead,
            }
        if self.workers is not None:
            found["in_flight"] = sum(
                worker.report.load
                for worker in self.workers
                if worker.report.queue in ("", self.queue)
            )
        return found


class FleetReader:
    """Reads a :class:`FleetView`, cached for ``ttl_s``."""

    def __init__(
        self, queue: str, broker: Broker, registry: Registry | None, ttl_s: float = FLEET_TTL_S
    ) -> None:
        self._queue = queue
        self._broker = broker
        self._registry = registry
        self._ttl_s = ttl_s
        self._read_at = -ttl_s
        self._view = FleetView(queue=queue)

    def watch(self, registry: Registry | None) -> None:
        """Read the workers from ``registry`` from now on."""
        self._registry = registry
        self._read_at = -self._ttl_s

    async def read(self) -> FleetView:
        """The view, read again once the cached one is older than the TTL."""
        now = time.monotonic()
        if now - self._read_at >= self._ttl_s:
            self._view = FleetView(await self._depth(), await self._workers(), self._queue)
            self._read_at = now
        return self._view

    async def _depth(self) -> QueueDepth | None:
        try:
            return await self._broker.depth()
        except JobqueueError as exc:
            log.debug("queue depth not read: %s", exc)
            return None

    async def _workers(self) -> list[WorkerInfo] | None:
        if self._registry is None:
            return None
        try:
            return await self._registry.workers()
        except JobqueueError as exc:
            log.debug("workers not read: %s", exc)
            return None
