"""The metrics options of ``jobqueue api`` and ``jobqueue worker``."""

from __future__ import annotations

from typing import Annotated

import typer

from jobqueue import config
from jobqueue.metrics.settings import DEFAULT_MAX_TYPES

MetricsSwitch = Annotated[
    bool,
    typer.Option(
        "--metrics/--no-metrics",
        envvar=config.env("metrics"),
        help="Serve /metrics and count jobs in the store for it and the dashboard's charts.",
    ),
]
MetricsMaxTypes = Annotated[
    int,
    typer.Option(
        envvar=config.env("metrics_max_types"),
        min=1,
        help='Job types past this many share the metrics label type="other".',
    ),
]
WorkerMetricsAddr = Annotated[
    str,
    typer.Option(
        envvar=config.env("metrics_addr"),
        help="host:port to serve this worker's own /metrics on (default: off).",
    ),
]

__all__ = ["DEFAULT_MAX_TYPES", "MetricsMaxTypes", "MetricsSwitch", "WorkerMetricsAddr"]
