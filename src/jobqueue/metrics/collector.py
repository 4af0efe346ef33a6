"""The metrics read at scrape time (job totals, time histograms, queue depth, workers) as
metric families."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from jobqueue.metrics.fleet import FleetView
from jobqueue.metrics.history import History
from jobqueue.registry import WorkerState
from jobqueue.store.timings import BOUND_OF, LABELS, RUN, WAIT

_HISTOGRAMS = {
    WAIT: (
        "jobqueue_job_wait_seconds",
        "Seconds from a job's submission to the start of its first attempt.",
    ),
    RUN: ("jobqueue_job_run_seconds", "Seconds a job's handler ran, per attempt."),
}
_WORKER_GAUGES = {
    "in_flight": ("jobqueue_worker_in_flight", "Jobs the worker runs now."),
    "concurrency": ("jobqueue_worker_concurrency", "Jobs the worker may run at once."),
    "age": ("jobqueue_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat."),
}


class ScrapeCollector(Collector):
    """Yields the families of the last :meth:`update`; the scrape updates it just before."""

    def __init__(self) -> None:
        self._history = History()
        self._fleet = FleetView()

    def update(self, history: History, fleet: FleetView) -> None:
        """What the next collection shows."""
        self._history, self._fleet = history, fleet

    def collect(self) -> Iterator[Metric]:
        """The families, each present even when empty."""
        yield self._jobs()
        yield from self._histograms()
        yield self._depth()
        yield from self._workers()

    def _jobs(self) -> Metric:
        family = CounterMetricFamily(
            "jobqueue_jobs",
            "Jobs by outcome: submitted, succeeded, failed (an attempt), retried, dead, "
            "cancelled, deferred (put off by a concurrency or rate limit, counted once a job). "
            "Read from the job store: the same on every API replica.",
            labels=["queue", "type", "outcome"],
        )
        for key, count in sorted(self._history.counts.items()):
            family.add_metric(list(key), count)
        return family

    def _histograms(self) -> Iterator[Metric]:
        counts, sums = self._history.bucket_counts, self._history.bucket_sums
        series = sorted({(queue, type_, measure) for queue, type_, measure, _ in counts})
        families = {
            measure: HistogramMetricFamily(name, text, labels=["queue", "type"])
            for measure, (name, text) in _HISTOGRAMS.items()
        }
        for queue, type_, measure in series:
            cumulative, buckets, total_s = 0.0, [], 0.0
            for le in sorted(LABELS, key=BOUND_OF.__getitem__):
                cumulative += counts.get((queue, type_, measure, le), 0)
                total_s += sums.get((queue, type_, measure, le), 0.0)
                buckets.append((le, cumulative))
            families[measure].add_metric([queue, type_], buckets, total_s)
        yield from families.values()

    def _depth(self) -> Metric:
        family = GaugeMetricFamily(
            "jobqueue_queue_depth",
            "Jobs in the queue by state: ready, in_flight (running on workers), scheduled "
            "(waiting for a retry's delay), dead.",
            labels=["queue", "state"],
        )
        for state, value in self._fleet.depth_by_state().items():
            family.add_metric([self._fleet.queue, state], value)
        return family

    def _workers(self) -> Iterator[Metric]:
        workers = self._fleet.workers or []
        by_state = GaugeMetricFamily("jobqueue_workers", "Workers by state.", labels=["state"])
        states = Counter(worker.state for worker in workers)
        for state in WorkerState:
            by_state.add_metric([state.value], states[state])
        yield by_state
        families = {
            key: GaugeMetricFamily(name, text, labels=["worker"])
            for key, (name, text) in _WORKER_GAUGES.items()
        }
        for worker in workers:
            if worker.state is WorkerState.DRAINED:
                continue  # gone: its per-worker series end
            families["in_flight"].add_metric([worker.worker_id], worker.report.load)
            families["concurrency"].add_metric([worker.worker_id], worker.report.concurrency)
            families["age"].add_metric([worker.worker_id], max(0.0, worker.seen_ago_s))
        yield from families.values()
