"""Per-minute histograms of how long jobs waited in the queue and ran, by queue and type.

Filled in the transaction that applies the workers' events: a first attempt's ``running``
event gives the wait (from the job's creation), a ``succeeded`` or ``failed_attempt`` event
that carries ``run_s`` gives the run time. Read back summed over all time (the metrics'
histograms) or over a window (the dashboard's percentiles); folded like the counts.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.store.counts import EPOCH, add_up, minute_of
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.store.tables import job_timings

WAIT = "wait"
RUN = "run"
BOUNDS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0, 1800.0, 3600.0, math.inf,
)  # fmt: skip
"""The buckets' upper bounds, in seconds; stored by their label, so they never change."""
LABELS: tuple[str, ...] = tuple("+Inf" if math.isinf(b) else f"{b:g}" for b in BOUNDS)
BOUND_OF = dict(zip(LABELS, BOUNDS, strict=True))
_KEY = ("minute", "queue", "type", "measure", "le")

Row = tuple[datetime, str, str, str, str, int, float]


@dataclass(frozen=True, slots=True)
class JobTiming:
    """How many waits or runs of a queue's job type fell in the bucket ``le``, and their sum."""

    queue: str
    type: str
    measure: str
    le: str
    count: int
    sum_s: float


def bucket_label(seconds: float) -> str:
    """The label of the bucket ``seconds`` falls in."""
    return LABELS[bisect_left(BOUNDS, seconds)]


def _measure(event: JobEvent) -> tuple[str, float] | None:
    """What ``event`` measures: a first start's wait, or an attempt's run time; else None.
    On the events path: plain comparisons rather than ``isinstance`` of unions."""
    kind = event.kind
    if kind is EventKind.RUNNING:
        if event.attempt or event.created_at is None:
            return None
        return WAIT, max(0.0, (event.at - event.created_at).total_seconds())
    if kind is EventKind.SUCCEEDED or kind is EventKind.FAILED_ATTEMPT:
        run_s = event.data.get("run_s")
        if type(run_s) is float or type(run_s) is int:
            return (RUN, float(run_s)) if run_s >= 0 else None
    return None


def event_rows(fresh: Sequence[JobEvent], queue: str) -> list[Row]:
    """The bucket counts and sums that newly applied events add, in key order."""
    rows: dict[tuple[datetime, str, str, str, str], list[float]] = {}
    for event in fresh:
        measured = _measure(event)
        if measured is None:
            continue
        measure, seconds = measured
        key = (minute_of(event.at), queue, event.job_type, measure, bucket_label(seconds))
        row = rows.get(key)
        if row is None:
            rows[key] = [1, seconds]
        else:
            row[0] += 1
            row[1] += seconds
    return [(*key, int(count), total) for key, (count, total) in sorted(rows.items())]


def add_on(connection: sa.Connection, rows: Sequence[Row]) -> None:
    """Add ``rows`` to the histograms inside a SQLAlchemy transaction."""
    add_up(connection.dialect, connection.connection, job_timings, _KEY, rows)


def totals(connection: sa.Connection, since: datetime | None = None) -> list[JobTiming]:
    """The buckets summed over every minute (from the minute of ``since``, when given)."""
    c = job_timings.c
    query = sa.select(
        c.queue, c.type, c.measure, c.le, sa.func.sum(c.count), sa.func.sum(c.sum_s)
    ).group_by(c.queue, c.type, c.measure, c.le)
    if since is not None:
        query = query.where(c.minute >= minute_of(since))
    return [
        JobTiming(queue, type_, measure, le, int(count), float(sum_s))
        for queue, type_, measure, le, count, sum_s in connection.execute(query)
    ]


def fold_before(connection: sa.Connection, cutoff: datetime) -> None:
    """Fold the buckets of minutes before ``cutoff`` into the :data:`EPOCH` rows."""
    c = job_timings.c
    old = sa.and_(c.minute < minute_of(cutoff), c.minute > EPOCH)
    groups = (c.queue, c.type, c.measure, c.le)
    query = (
        sa.select(*groups, sa.func.sum(c.count), sa.func.sum(c.sum_s))
        .where(old)
        .group_by(*groups)
        .order_by(*groups)
    )
    rows: list[Any] = [(EPOCH, *key, int(n), float(s)) for *key, n, s in connection.execute(query)]
    if rows:
        connection.execute(sa.delete(job_timings).where(old))
        add_on(connection, rows)
