"""The metrics of delayed jobs: how late the promoter published them, and how many wait."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from jobqueue.store import DueJob

LATE_S = 1.0
"""A job published more than this after its ``run_at`` counts as late."""
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0)


class ScheduleInstruments:
    """``jobqueue_scheduled_lateness_seconds`` and ``jobqueue_scheduled_late`` (this process's
    promoter), ``jobqueue_jobs_scheduled`` (the store's, set at each scrape)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lateness = Histogram(
            "jobqueue_scheduled_lateness_seconds",
            "Seconds from a scheduled job's run_at to its publishing by this API's promoter.",
            buckets=_BUCKETS,
            registry=registry,
        )
        self.late = Counter(
            "jobqueue_scheduled_late",
            f"Scheduled jobs this API's promoter published more than {LATE_S:g} s late.",
            registry=registry,
        )
        self.waiting = Gauge(
            "jobqueue_jobs_scheduled",
            "Delayed jobs waiting in the job store for their run_at (every replica shows the "
            "same).",
            registry=registry,
        )

    def promoted(self, jobs: Sequence[DueJob], at: datetime) -> None:
        """Observe how late each job of a batch published ``at`` was."""
        for due in jobs:
            lateness_s = max(0.0, (at - due.run_at).total_seconds())
            self.lateness.observe(lateness_s)
            if lateness_s > LATE_S:
                self.late.inc()
