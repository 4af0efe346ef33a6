"""The store's own writes of job state: submissions and requeues (events are in ``apply``).

Each function runs inside a transaction the caller opened. Rows are written in id order so that
concurrent batches lock rows in the same order and cannot deadlock each other on PostgreSQL.

Submissions are the API's hot path: their two statements name only the columns a queued job
fills, are compiled once per dialect, and run as one ``executemany`` each on the driver's own
cursor, with each row built straight as the driver's values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from jobqueue import codec
from jobqueue.job import Job
from jobqueue.store import counts, driver
from jobqueue.store import events as ev
from jobqueue.store.apply import tracked_row
from jobqueue.store.tables import events, jobs

# What recording a submission may change in a record that a worker's events created first.
_SUBMITTED = ("type", "payload", "created_at")
_FILLED_IN = ("max_attempts", "idempotency_key", "priority")
# The columns a submission writes (the others of a new record stay NULL), in this order.
_SUBMITTED_COLUMNS = (
    "id",
    "type",
    "state",
    "rank",
    "rank_at",
    "attempts",
    "max_attempts",
    "priority",
    "created_at",
    "updated_at",
    "cancel_requested",
    "idempotency_key",
    "payload",
)
_QUEUED_COLUMNS = ("event_id", "job_id", "kind", "attempt", "rank", "at", "job_type", "data")
# What a requeue keeps of a record: everything else starts over.
_KEPT_ON_REQUEUE = ("id", "created_at", "idempotency_key")


def job_time(job: Job) -> datetime:
    """When the job was created, from its wire field (now if that is not a timestamp)."""
    try:
        return ev.parse_time(job.created_at)
    except ValueError:
        return ev.utc_now()


def _submitted_upsert(insert: driver.Insert) -> sa.Insert:
    statement = insert(jobs).values({name: sa.bindparam(name) for name in _SUBMITTED_COLUMNS})
    x = statement.excluded
    changes: dict[str, Any] = {name: x[name] for name in _SUBMITTED}
    changes.update({name: sa.func.coalesce(x[name], jobs.c[name]) for name in _FILLED_IN})
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[jobs.c.id], set_=changes
    )


def _queued_entry_insert(insert: driver.Insert) -> sa.Insert:
    statement = insert(events).values({name: sa.bindparam(name) for name in _QUEUED_COLUMNS})
    return statement.on_conflict_do_nothing(  # type: ignore[no-any-return]
        index_elements=[events.c.event_id]
    )


def _executemany(
    dialect: Dialect,
    dbapi_connection: Any,
    build: Callable[[driver.Insert], sa.Insert],
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """Run ``build``'s statement once per row of driver values on the driver's own cursor."""
    sql, names = driver.compiled(dialect, build)
    assert names == columns, names
    cursor = dbapi_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _requeued_upsert(insert: driver.Insert) -> sa.Insert:
    statement = insert(jobs).values(driver.row_binds(jobs))
    changes = {c.name: statement.excluded[c.name] for c in jobs.c if c.name not in _KEPT_ON_REQUEUE}
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[jobs.c.id], set_=changes
    )


def _queued_row(job: Job, at: datetime, idempotency_key: str | None) -> dict[str, Any]:
    row = tracked_row(ev.queued(at, job.attempts))
    row.update(
        id=job.id,
        type=job.type,
        max_attempts=job.max_attempts,
        created_at=job_time(job),
        cancel_requested=False,
        idempotency_key=idempotency_key,
        payload=job.payload,
        run_at=None,
        priority=job.priority,
    )
    return row


_QUEUED = ev.EventKind.QUEUED.value


def _submitted_record(job: Job, key: str | None, at: Any) -> tuple[Any, ...]:
    """The driver values of :data:`_SUBMITTED_COLUMNS` for a job queued ``at``."""
    payload = None if job.payload is None else codec.dumps(job.payload).decode("utf-8")
    rank = ev.rank(ev.EventKind.QUEUED, job.attempts)
    return (
        job.id,
        job.type,
        _QUEUED,
        rank,
        at,
        job.attempts,
        job.max_attempts,
        job.priority,
        at,
        at,
        False,
        key,
        payload,
    )


def _queued_entry(job: Job, at: Any) -> tuple[Any, ...]:
    """The driver values of :data:`_QUEUED_COLUMNS` for a job's ``queued`` history entry."""
    rank = ev.rank(ev.EventKind.QUEUED, job.attempts)
    return (f"{job.id}:queued", job.id, _QUEUED, job.attempts, rank, at, job.type, "{}")


def _store_event(job: Job, kind: ev.EventKind, event_id: str, at: datetime) -> ev.JobEvent:
    return ev.JobEvent(
        event_id=event_id, job_id=job.id, kind=kind, attempt=job.attempts, at=at, job_type=job.type
    )


def record_submitted(
    dialect: Dialect,
    dbapi_connection: Any,
    submitted: Sequence[tuple[Job, str | None]],
    count_rows: Sequence[counts.Row] = (),
) -> None:
    """Insert queued records (or fill in those events created) and their ``queued`` entries,
    and add ``count_rows`` (a :class:`counts.SubmissionTally`'s) to the job counts.

    Runs on a DB-API connection of ``dialect`` inside a transaction the caller opened.
    ``submitted`` pairs each job with its idempotency key (or None).
    """
    unique: dict[str, tuple[Job, str | None]] = {}
    for job, key in submitted:
        unique[job.id] = (job, key or unique.get(job.id, (job, None))[1])
    if not unique:
        return
    time = driver.time_converter(dialect.name)
    moments = {job_id: job_time(job) for job_id, (job, _) in unique.items()}
    ordered = [(unique[job_id], time(moments[job_id])) for job_id in sorted(unique)]
    records = [_submitted_record(job, key, at) for (job, key), at in ordered]
    # A fixed id per job: recording the same submission twice adds one entry.
    entries = [_queued_entry(job, at) for (job, _), at in ordered]
    _executemany(dialect, dbapi_connection, _submitted_upsert, _SUBMITTED_COLUMNS, records)
    _executemany(dialect, dbapi_connection, _queued_entry_insert, _QUEUED_COLUMNS, entries)
    counts.add(dialect, dbapi_connection, count_rows)


def record_requeued(connection: sa.Connection, requeued: Sequence[Job]) -> None:
    """Reset each job to queued with a fresh start, keeping (and adding to) its history."""
    now = ev.utc_now()
    ordered = sorted(requeued, key=lambda job: job.id)
    if not ordered:
        return
    driver.execute_rows(connection, _requeued_upsert, [_queued_row(j, now, None) for j in ordered])
    entries = [_store_event(j, ev.EventKind.REQUEUED, ev.new_event_id(), now) for j in ordered]
    driver.append_history(connection, entries)
