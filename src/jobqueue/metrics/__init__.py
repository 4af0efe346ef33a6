"""Prometheus metrics of the API process: one scrape target for the whole fleet."""

from jobqueue.metrics.registry import METRICS_PATH, Metrics
from jobqueue.metrics.settings import MetricsSettings

__all__ = ["METRICS_PATH", "Metrics", "MetricsSettings"]
