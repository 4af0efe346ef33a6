"""The metered API in process (SQLite broker and store, a worker registry, the events
consumer), as the metrics' tests build it."""

from tests.metrics.conftest import metered, metrics_settings

__all__ = ["metered", "metrics_settings"]
