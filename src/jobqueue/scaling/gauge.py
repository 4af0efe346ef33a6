"""``jobqueue_desired_workers{queue}``: the scaling decision as a gauge on ``/metrics``, for
scalers that read Prometheus (KEDA's Prometheus trigger, an HPA on external metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from jobqueue.scaling.view import Answer, Scaling

NAME = "jobqueue_desired_workers"
HELP = (
    "Workers the queue wants now (GET /scaling's desired_workers): enough job slots for the "
    "running jobs and to drain the ready ones within the target, one more than now when the "
    "oldest ready job waited too long, within the API's JOBQUEUE_WORKERS bounds."
)


class DesiredWorkers(Collector):
    """Yields the gauge of the last :meth:`refresh`; the family is present even when empty."""

    def __init__(self) -> None:
        self._scaling: Scaling | None = None
        self._answer: Answer | None = None

    def watch(self, scaling: Scaling) -> None:
        """Show the decisions of ``scaling`` from now on."""
        self._scaling = scaling

    async def refresh(self) -> None:
        """Decide again (the inputs are cached briefly), for the next collection."""
        self._answer = None if self._scaling is None else await self._scaling.answer()

    def collect(self) -> Iterator[Metric]:
        """The gauge; no sample while the decision cannot be made (the broker is down)."""
        family = GaugeMetricFamily(NAME, HELP, labels=["queue"])
        if self._answer is not None:
            family.add_metric([self._answer.queue], self._answer.decision.desired)
        yield family
