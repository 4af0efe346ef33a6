"""The overview: jobs per second and queue depth over a window, wait and run percentiles,
counts by state and outcome, and the workers — one JSON document, cached for a moment so any
number of dashboards and terminals cost the store one read."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from jobqueue.metrics.fleet import FleetReader, FleetView
from jobqueue.registry import WorkerState
from jobqueue.stats.quantiles import quantile
from jobqueue.store import Store
from jobqueue.store.counts import bucket_start
from jobqueue.store.events import utc_now
from jobqueue.store.timings import BOUND_OF, RUN, WAIT

WINDOWS: dict[str, tuple[int, int]] = {"15m": (900, 60), "24h": (86400, 900)}
"""Each window's length and bucket, in seconds."""
OUTCOMES = ("submitted", "succeeded", "failed", "dead")
DEPTH_STATES = ("ready", "in_flight", "scheduled", "dead")
OVERVIEW_TTL_S = 2.0

Overview = dict[str, Any]


class OverviewReader:
    """Builds the overview of a window from the store and the fleet, at most once per ``ttl_s``
    per window."""

    def __init__(self, store: Store, fleet: FleetReader, ttl_s: float = OVERVIEW_TTL_S) -> None:
        self._store = store
        self._fleet = fleet
        self._ttl_s = ttl_s
        self._cached: dict[str, tuple[float, Overview]] = {}

    async def read(self, window: str) -> Overview:
        """The overview of ``window`` (a key of :data:`WINDOWS`)."""
        now = time.monotonic()
        cached = self._cached.get(window)
        if cached is not None and now - cached[0] < self._ttl_s:
            return cached[1]
        overview = await self._build(window)
        self._cached[window] = (now, overview)
        return overview

    async def _build(self, window: str) -> Overview:
        window_s, bucket_s = WINDOWS[window]
        now = utc_now()
        starts = _bucket_starts(now, window_s, bucket_s)
        view = await self._fleet.read()
        return {
            "now_unix": now.timestamp(),
            "queue": view.queue,
            "window": window,
            "window_s": window_s,
            "bucket_s": bucket_s,
            "throughput": await self._throughput(starts, bucket_s, now),
            "depth": await self._depth(view.queue, starts, bucket_s),
            "depth_now": view.depth_by_state(),
            "states": {state.value: n for state, n in (await self._store.state_counts()).items()},
            "totals": await self._totals(),
            **await self._percentiles(starts[0]),
            "workers": _workers(view),
        }

    async def _throughput(
        self, starts: list[datetime], bucket_s: int, now: datetime
    ) -> dict[str, list[list[float]]]:
        counts: dict[tuple[datetime, str], int] = {
            (point.at, point.outcome): point.count
            for point in await self._store.job_counts(starts[0], bucket_s)
        }
        last_s = max(1.0, (now - starts[-1]).total_seconds())  # the bucket still filling
        spans = [float(bucket_s)] * (len(starts) - 1) + [min(float(bucket_s), last_s)]
        return {
            outcome: [
                [at.timestamp(), round(counts.get((at, outcome), 0) / span, 3)]
                for at, span in zip(starts, spans, strict=True)
            ]
            for outcome in OUTCOMES
        }

    async def _depth(
        self, queue: str, starts: list[datetime], bucket_s: int
    ) -> dict[str, list[list[float | None]]]:
        found = {
            (point.at, point.state): point.value
            for point in await self._store.depth_series(queue, starts[0], bucket_s)
        }
        return {
            state: [[at.timestamp(), found.get((at, state))] for at in starts]
            for state in DEPTH_STATES
        }

    async def _totals(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for total in await self._store.job_totals():
            totals[total.outcome] += total.count
        return dict(totals)

    async def _percentiles(self, since: datetime) -> dict[str, dict[str, float | None]]:
        buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
        for timing in await self._store.job_timings(since):
            buckets[timing.measure][BOUND_OF[timing.le]] += timing.count
        return {
            f"{measure}_seconds": {
                "p50": _rounded(quantile(0.50, buckets[measure])),
                "p95": _rounded(quantile(0.95, buckets[measure])),
            }
            for measure in (WAIT, RUN)
        }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 4)


def _bucket_starts(now: datetime, window_s: int, bucket_s: int) -> list[datetime]:
    """The starts of the buckets that cover the window ending ``now``, oldest first."""
    last = bucket_start(now, bucket_s)
    count = max(1, window_s // bucket_s)
    return [last - timedelta(seconds=bucket_s * step) for step in range(count - 1, -1, -1)]


def _workers(view: FleetView) -> dict[str, int | None]:
    workers = view.workers
    if workers is None:
        return {"total": None}
    live = [worker for worker in workers if worker.state is not WorkerState.DRAINED]
    states = Counter(worker.state.value for worker in live)
    return {
        "total": len(live),
        **{state.value: states[state.value] for state in WorkerState if state.value != "drained"},
        "in_flight": sum(worker.report.load for worker in live),
        "concurrency": sum(worker.report.concurrency for worker in live),
    }
