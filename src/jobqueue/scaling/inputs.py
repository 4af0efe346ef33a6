"""The decision's inputs read from the running system: depth from the broker, workers and
in-flight jobs from the registry, the oldest ready job and the pace from the job store.

Every broker can say how many jobs are ready, but not how old the oldest is (RabbitMQ keeps
no such figure), so the age is the job store's: the oldest job still ``queued`` there (its
submission, or its due time for a delayed job). That job may already sit in a worker's
prefetch, not in the broker, so the age can run slightly ahead; with workers that report no
status (``--no-status``) the store never hears that a job started, so read the age with care
there. Nothing here is on the job path: it is read when ``/scaling`` or ``/metrics`` asks, at
most once per ``ttl_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from jobqueue import config
from jobqueue.errors import JobqueueError
from jobqueue.job import JobState
from jobqueue.metrics.fleet import FleetReader, FleetView
from jobqueue.registry import WorkerInfo, WorkerState
from jobqueue.scaling.rule import ScalingInputs
from jobqueue.store import Store
from jobqueue.store.counts import minute_of
from jobqueue.store.events import utc_now
from jobqueue.store.sql import SqlStore
from jobqueue.store.tables import jobs

log = logging.getLogger("jobqueue.scaling")

READ_TTL_S = 1.0
PACE_WINDOW_S = 60.0
"""The pace is the attempts finished since the start of the minute this long ago."""
OLDEST_SCAN = 32
"""Queued jobs looked at, oldest submitted first, for the one ready longest (a delayed job's
wait starts at its due time, not its submission)."""
FINISHED_OUTCOMES = frozenset({"succeeded", "failed"})
SERVING_STATES = frozenset({WorkerState.ACTIVE, WorkerState.PAUSED})


@dataclass(frozen=True, slots=True)
class Reading:
    """The inputs read at one moment; ``inputs`` None when the broker's depth was unreadable."""

    inputs: ScalingInputs | None
    read_at_unix: float


class ScalingReader:
    """Reads :class:`ScalingInputs` for one queue, cached for ``ttl_s``."""

    def __init__(
        self,
        fleet: FleetReader,
        store: Store | None,
        default_concurrency: int = config.CONCURRENCY,
        ttl_s: float = READ_TTL_S,
    ) -> None:
        self._fleet = fleet
        self._store = store
        self._default_concurrency = default_concurrency
        self._ttl_s = ttl_s
        self._read_at = -ttl_s
        self._reading = Reading(None, 0.0)

    async def read(self) -> Reading:
        """The inputs, read again once the cached ones are older than the TTL."""
        now = time.monotonic()
        if now - self._read_at >= self._ttl_s:
            self._reading = await self._read()
            self._read_at = now
        return self._reading

    async def _read(self) -> Reading:
        view = await self._fleet.read()
        if view.depth is None:
            return Reading(None, time.time())
        workers = _serving(view)
        depth = view.depth.ready
        inputs = ScalingInputs(
            depth=depth,
            oldest_ready_age_s=await self._oldest_ready_age_s() if depth else 0.0,
            throughput_per_s=await self._throughput_per_s(),
            in_flight=view.depth_by_state().get("in_flight", 0),
            workers=len(workers),
            concurrency=self._concurrency(workers),
        )
        return Reading(inputs, time.time())

    def _concurrency(self, workers: Sequence[WorkerInfo]) -> int:
        reported = [worker.report.concurrency for worker in workers if worker.report.concurrency]
        if not reported:
            return self._default_concurrency
        return max(1, round(sum(reported) / len(reported)))

    async def _oldest_ready_age_s(self) -> float | None:
        if not isinstance(self._store, SqlStore):
            return None
        try:
            since = await self._store.transaction(oldest_queued_at, write=False)
        except JobqueueError as exc:
            log.debug("oldest queued job not read: %s", exc)
            return None
        return None if since is None else max(0.0, (utc_now() - since).total_seconds())

    async def _throughput_per_s(self) -> float | None:
        if self._store is None:
            return None
        now = utc_now()
        start = minute_of(now - timedelta(seconds=PACE_WINDOW_S))
        try:
            counts = await self._store.job_counts(start, PACE_WINDOW_S)
        except JobqueueError as exc:
            log.debug("pace not read: %s", exc)
            return None
        finished = sum(count.count for count in counts if count.outcome in FINISHED_OUTCOMES)
        return finished / max(1.0, (now - start).total_seconds())


def oldest_queued_at(connection: sa.Connection) -> datetime | None:
    """When the job queued longest became ready: the earliest of the first
    :data:`OLDEST_SCAN` queued jobs' ``max(created_at, run_at)``; None with none queued."""
    query = (
        sa.select(jobs.c.created_at, jobs.c.run_at)
        .where(jobs.c.state == JobState.QUEUED.value)
        .order_by(jobs.c.created_at, jobs.c.id)
        .limit(OLDEST_SCAN)
    )
    ready = [max(created, run_at or created) for created, run_at in connection.execute(query)]
    return min(ready, default=None)


def _serving(view: FleetView) -> list[WorkerInfo]:
    """The queue's workers that take jobs (active or paused: not draining or drained)."""
    return [
        worker
        for worker in view.workers or []
        if worker.state in SERVING_STATES and worker.report.queue in ("", view.queue)
    ]
