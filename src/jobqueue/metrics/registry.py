"""``Metrics``: the API process's Prometheus registry, what it reads at scrape time and the
instruments the HTTP server, the control plane and the events consumer feed."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from jobqueue.brokers import Broker
from jobqueue.delay.metrics import ScheduleInstruments
from jobqueue.errors import StoreUnavailable
from jobqueue.metrics.collector import ScrapeCollector
from jobqueue.metrics.fleet import FleetReader
from jobqueue.metrics.history import History, StoreHistory
from jobqueue.metrics.instruments import (
    CronInstruments,
    EventInstruments,
    GrpcInstruments,
    HttpInstruments,
)
from jobqueue.metrics.settings import MetricsSettings
from jobqueue.registry import Registry
from jobqueue.scaling.gauge import DesiredWorkers
from jobqueue.store import Store

if TYPE_CHECKING:
    from jobqueue.scaling.view import Scaling

METRICS_PATH = "/metrics"


class Metrics:
    """One scrape target for the fleet: job totals and time histograms from the store (every
    replica shows the same), depth from the broker, workers from the registry, and this
    process's own HTTP, gRPC and events instruments."""

    def __init__(
        self,
        queue: str,
        broker: Broker,
        store: Store | None = None,
        workers: Registry | None = None,
        settings: MetricsSettings | None = None,
        fixed_paths: frozenset[str] = frozenset(),
    ) -> None:
        settings = settings or MetricsSettings()
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self._scrape = ScrapeCollector()
        self.registry.register(self._scrape)
        self.http = HttpInstruments(self.registry, fixed_paths | {METRICS_PATH})
        self.grpc = GrpcInstruments(self.registry)
        self.events = EventInstruments(self.registry)
        self.schedule = ScheduleInstruments(self.registry)
        self._store = store
        self.cron = CronInstruments(self.registry)
        self._history = None if store is None else StoreHistory(store, settings.max_types)
        self._fleet = FleetReader(queue, broker, workers)
        self._desired = DesiredWorkers()
        self.registry.register(self._desired)

    @property
    def fleet(self) -> FleetReader:
        """The fleet's reader: the overview and the scaling decision read through it too, so
        one scrape, dashboard or ``/scaling`` read costs the broker and the registry one read."""
        return self._fleet

    def watch_workers(self, workers: Registry | None) -> None:
        """Show the workers of ``workers`` (the registry is made after the metrics)."""
        self._fleet.watch(workers)

    def watch_scaling(self, scaling: Scaling) -> None:
        """Show the scaling decision of ``scaling`` as ``jobqueue_desired_workers``."""
        self._desired.watch(scaling)

    async def exposition(self) -> bytes:
        """Read what the scrape shows (cached briefly) and render the text format."""
        history = History() if self._history is None else await self._history.read()
        self._scrape.update(history, await self._fleet.read())
        await self._desired.refresh()
        if self._store is not None:
            with contextlib.suppress(StoreUnavailable):
                self.schedule.waiting.set(await self._store.scheduled_count())
        return generate_latest(self.registry)
