"""Whether metrics are on, and how many job types get a label of their own."""

from __future__ import annotations

from dataclasses import dataclass

from jobqueue.config import env
from jobqueue.errors import ConfigError

DEFAULT_MAX_TYPES = 100


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """``JOBQUEUE_METRICS`` (on: ``/metrics`` served, requests and calls instrumented, jobs
    counted in the store) and ``JOBQUEUE_METRICS_MAX_TYPES`` (job types past this many share
    the label ``type="other"``)."""

    enabled: bool = True
    max_types: int = DEFAULT_MAX_TYPES

    def __post_init__(self) -> None:
        if self.max_types < 1:
            raise ConfigError(f"{env('metrics_max_types')} must be at least 1")
