"""A worker's own ``/metrics`` (``jobqueue worker --metrics-addr``): its process, and the
counts it reports in heartbeats, read at scrape time so the job path pays nothing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobqueue.config import parse_addr
from jobqueue.errors import ConfigError
from jobqueue.worker.stats import WorkerStats

log = logging.getLogger("jobqueue.worker")

_STATES = ("active", "paused", "draining")


class WorkerCollector(Collector):
    """The families of a worker's :class:`WorkerStats`, read when scraped."""

    def __init__(self, stats: Callable[[], WorkerStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """The worker's counters and gauges."""
        stats = self._stats()
        yield CounterMetricFamily(
            "jobqueue_worker_jobs_processed", "Jobs this worker finished.", value=stats.processed
        )
        yield CounterMetricFamily(
            "jobqueue_worker_attempts_failed", "Attempts that failed here.", value=stats.failed
        )
        yield GaugeMetricFamily(
            "jobqueue_worker_jobs_in_flight", "Jobs running here now.", value=stats.in_flight
        )
        yield GaugeMetricFamily(
            "jobqueue_worker_job_slots", "Jobs this worker runs at once.", value=stats.concurrency
        )
        state = GaugeMetricFamily(
            "jobqueue_worker_state", "1 for the state the worker is in.", labels=["state"]
        )
        for name in _STATES:
            state.add_metric([name], 1.0 if stats.state == name else 0.0)
        yield state


def worker_registry(stats: Callable[[], WorkerStats]) -> CollectorRegistry:
    """A registry of the worker's process and its stats."""
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    registry.register(WorkerCollector(stats))
    return registry


@contextlib.contextmanager
def serving_worker_metrics(stats: Callable[[], WorkerStats], addr: str) -> Iterator[None]:
    """Serve the worker's metrics on ``addr`` (``host:port``) for the duration of the block;
    an empty ``addr`` serves nothing."""
    if not addr:
        yield
        return
    host, port = parse_addr(addr, "--metrics-addr")
    try:
        server, thread = start_http_server(port, host, registry=worker_registry(stats))
    except OSError as exc:
        raise ConfigError(f"--metrics-addr {addr}: cannot listen ({exc.strerror})") from None
    log.info("worker metrics on http://%s:%d/metrics", host, server.server_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
