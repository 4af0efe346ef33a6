"""The API's HTTP requests by route, method and status, and their latency: plain counts kept
on the event loop's thread and rendered as metric families at scrape time.

Every request passes through here, so the update is a dict lookup and two integer additions,
not a labelled child's lock per counter and per histogram bucket."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_go_float = cast(Callable[[float], str], floatToGoString)  # untyped: how bounds are written

RequestKey = tuple[str, str, int]
"""(route, method, status)."""


class _Latency:
    """One (route, method)'s latency histogram: a count per bucket (not cumulative) and a sum."""

    __slots__ = ("counts", "total_s")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # the last is +Inf
        self.total_s = 0.0


class RequestTally(Collector):
    """Counts requests and times them; collected as ``jobqueue_http_requests_total`` and
    ``jobqueue_http_request_duration_seconds``."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self._bounds = tuple(float(bound) for bound in buckets)
        self._requests: dict[RequestKey, int] = {}
        self._latency: dict[RequestKey, _Latency] = {}  # by request key, merged at scrape

    def observe(self, key: RequestKey, elapsed_s: float) -> None:
        """Count one answered request and its latency."""
        latency = self._latency.get(key)
        if latency is None:
            latency = self._latency[key] = _Latency(len(self._bounds))
            self._requests[key] = 0
        self._requests[key] += 1
        latency.counts[bisect_left(self._bounds, elapsed_s)] += 1
        latency.total_s += elapsed_s

    def collect(self) -> Iterator[Metric]:
        """The two families (a snapshot: updates run on the same thread as the scrape)."""
        requests = CounterMetricFamily(
            "jobqueue_http_requests",
            "HTTP requests answered, by route, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in sorted(self._requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        yield self._latency_family()

    def _latency_family(self) -> Metric:
        family = HistogramMetricFamily(
            "jobqueue_http_request_duration_seconds",
            "Seconds from a request's arrival to its answer's last byte, by route and method.",
            labels=["route", "method"],
        )
        merged: dict[tuple[str, str], tuple[list[int], float]] = {}
        for (route, method, _), latency in self._latency.items():
            counts, total_s = merged.get((route, method), ([0] * len(latency.counts), 0.0))
            summed = [a + b for a, b in zip(counts, latency.counts, strict=True)]
            merged[(route, method)] = (summed, total_s + latency.total_s)
        for labels, (counts, total_s) in sorted(merged.items()):
            family.add_metric(list(labels), self._cumulative(counts), total_s)
        return family

    def _cumulative(self, counts: list[int]) -> list[tuple[str, float]]:
        bounds = [_go_float(bound) for bound in self._bounds] + ["+Inf"]
        running, buckets = 0, []
        for bound, count in zip(bounds, counts, strict=True):
            running += count
            buckets.append((bound, float(running)))
        return buckets
