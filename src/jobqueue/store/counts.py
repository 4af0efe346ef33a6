"""Per-minute job counts by queue, type and outcome: added to in the transactions that record
submissions and apply events, read back as totals (the metrics' counters) and as time series.

Counts older than the retention are not dropped but folded into one row per queue, type and
outcome at :data:`EPOCH`, so the totals never go down.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from jobqueue.store import driver
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.store.tables import job_counts

SUBMITTED = "submitted"
TALLY_INTERVAL_S = 1.0
OUTCOMES = {
    EventKind.SUCCEEDED: "succeeded",
    EventKind.FAILED_ATTEMPT: "failed",
    EventKind.RETRYING: "retried",
    EventKind.DEAD: "dead",
    EventKind.CANCELLED: "cancelled",
    EventKind.WAITING: "deferred",  # put off by a concurrency or rate limit, unrun
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY = ("minute", "queue", "type", "outcome")

Key = tuple[datetime, str, str, str]
Row = tuple[datetime, str, str, str, int]


@dataclass(frozen=True, slots=True)
class JobTotal:
    """How many jobs of a queue and type had an outcome, ever; ``since``: the first minute."""

    queue: str
    type: str
    outcome: str
    count: int
    since: datetime


@dataclass(frozen=True, slots=True)
class JobCount:
    """How many jobs had an outcome in the bucket starting ``at``."""

    at: datetime
    outcome: str
    count: int


def minute_of(moment: datetime) -> datetime:
    """The UTC minute ``moment`` falls in (every event and submission asks: cached, since
    ``datetime.replace`` costs more than the rest of counting it)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return _minute(moment.year, moment.month, moment.day, moment.hour, moment.minute)


def minute_of_text(created_at: str) -> datetime:
    """The UTC minute of a job's ``created_at``: read from its first 16 characters when it is
    in jobqueue's own form (``2026-12-03T12:00:00.123456Z``, cached per minute), else parsed
    (now, when it is no time at all)."""
    if len(created_at) == 27 and created_at[-1] == "Z":
        return _minute_of_prefix(created_at[:16])
    try:
        return minute_of(datetime.fromisoformat(created_at))
    except ValueError:
        return minute_of(datetime.now(UTC))


@functools.lru_cache(maxsize=256)
def _minute_of_prefix(prefix: str) -> datetime:
    return datetime.fromisoformat(prefix).replace(tzinfo=UTC)


@functools.lru_cache(maxsize=1024)
def _minute(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class SubmissionTally:
    """Counts of submitted jobs held in memory and written with a later submission's
    transaction, at most once per ``interval_s``, or at once when counts are read or the store
    closes: the submit path then pays one small upsert a second rather than one per
    transaction. A crash loses at most that second's submission counts, never a job."""

    def __init__(self, queue: str, interval_s: float = TALLY_INTERVAL_S) -> None:
        self._queue = queue
        self._interval_s = interval_s
        self._pending: dict[tuple[datetime, str], int] = {}
        self._taken_at = time.monotonic()

    def collect(self, submissions: Iterable[tuple[datetime, str]]) -> list[Row]:
        """Count jobs submitted at (moment, type); the rows to write now, if it is time."""
        pending = self._pending
        for moment, job_type in submissions:
            key = (minute_of(moment), job_type)
            pending[key] = pending.get(key, 0) + 1
        if time.monotonic() - self._taken_at < self._interval_s:
            return []
        return self.take()

    def take(self) -> list[Row]:
        """Every pending count as rows, in key order; the tally starts empty again."""
        pending, self._pending = self._pending, {}
        self._taken_at = time.monotonic()
        return [(m, self._queue, t, SUBMITTED, n) for (m, t), n in sorted(pending.items())]

    def restore(self, rows: Sequence[Row]) -> None:
        """Put back rows whose transaction failed."""
        for minute, _, job_type, _, count in rows:
            key = (minute, job_type)
            self._pending[key] = self._pending.get(key, 0) + count


def tally(keys: Iterable[Key]) -> list[Row]:
    """One row per key with how often it came, in key order (so concurrent writers lock the
    rows in the same order)."""
    return [(*key, count) for key, count in sorted(Counter(keys).items())]


def event_rows(fresh: Sequence[JobEvent], queue: str) -> list[Row]:
    """The counts that newly applied events add."""
    return tally(
        (minute_of(event.at), queue, event.job_type, OUTCOMES[event.kind])
        for event in fresh
        if event.kind in OUTCOMES
    )


def add_up(
    dialect: Dialect,
    dbapi_connection: Any,
    table: sa.Table,
    key: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``rows`` (the key columns, then the summed ones, in the table's column order) into
    ``table``, adding the summed columns to those of a row with the same key: one
    ``executemany`` on the driver's own cursor. The first column is a time."""
    if not rows:
        return
    sql, names = driver.compiled(dialect, _incrementing(table, key))
    assert names == tuple(column.name for column in table.columns), names
    time = driver.time_converter(dialect.name)
    cursor = dbapi_connection.cursor()
    try:
        cursor.executemany(sql, [(time(row[0]), *row[1:]) for row in rows])
    finally:
        cursor.close()


@functools.cache
def _incrementing(table: sa.Table, key: tuple[str, ...]) -> driver.Build:
    """The builder of ``table``'s insert that adds to the row of the same ``key`` (one per
    table, so its SQL is compiled once)."""
    columns = [column.name for column in table.columns]
    summed = [name for name in columns if name not in key]

    def build(insert: driver.Insert) -> sa.Insert:
        statement = insert(table).values({name: sa.bindparam(name) for name in columns})
        return statement.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=[table.c[name] for name in key],
            set_={name: table.c[name] + statement.excluded[name] for name in summed},
        )

    return build


def add(dialect: Dialect, dbapi_connection: Any, rows: Sequence[Row]) -> None:
    """Add ``rows`` to the counts."""
    add_up(dialect, dbapi_connection, job_counts, _KEY, rows)


def add_on(connection: sa.Connection, rows: Sequence[Row]) -> None:
    """:func:`add` inside a SQLAlchemy transaction."""
    add(connection.dialect, connection.connection, rows)


def totals(connection: sa.Connection) -> list[JobTotal]:
    """Every count summed over time, by queue, type and outcome."""
    c = job_counts.c
    query = (
        sa.select(c.queue, c.type, c.outcome, sa.func.sum(c.count), sa.func.min(c.minute))
        .group_by(c.queue, c.type, c.outcome)
        .order_by(c.queue, c.type, c.outcome)
    )
    return [
        JobTotal(queue, type_, outcome, int(count), since)
        for queue, type_, outcome, count, since in connection.execute(query)
    ]


def series(connection: sa.Connection, since: datetime, bucket_s: float) -> list[JobCount]:
    """Counts per outcome in buckets of ``bucket_s`` (whole minutes, at least one) from
    ``since``, oldest first; buckets with nothing are left out."""
    c = job_counts.c
    query = (
        sa.select(c.minute, c.outcome, sa.func.sum(c.count))
        .where(c.minute >= minute_of(since))
        .group_by(c.minute, c.outcome)
    )
    buckets: Counter[tuple[datetime, str]] = Counter()
    for minute, outcome, count in connection.execute(query):
        buckets[(bucket_start(minute, bucket_s), outcome)] += int(count)
    return [JobCount(at, outcome, count) for (at, outcome), count in sorted(buckets.items())]


def bucket_start(minute: datetime, bucket_s: float) -> datetime:
    """The start of the bucket of ``bucket_s`` (rounded to whole minutes, at least one) that
    ``minute`` falls in; buckets are aligned on the epoch."""
    bucket_min = max(1, round(bucket_s / 60))
    minutes = int((minute - EPOCH).total_seconds()) // 60
    return EPOCH + timedelta(minutes=minutes - minutes % bucket_min)


def fold_before(connection: sa.Connection, cutoff: datetime) -> None:
    """Fold the counts of minutes before ``cutoff`` into the :data:`EPOCH` rows."""
    c = job_counts.c
    old = sa.and_(c.minute < minute_of(cutoff), c.minute > EPOCH)
    query = (
        sa.select(c.queue, c.type, c.outcome, sa.func.sum(c.count))
        .where(old)
        .group_by(c.queue, c.type, c.outcome)
        .order_by(c.queue, c.type, c.outcome)
    )
    rows = [(EPOCH, q, t, o, int(n)) for q, t, o, n in connection.execute(query)]
    if rows:
        connection.execute(sa.delete(job_counts).where(old))
        add_on(connection, rows)
