"""The store's own writes of job state: submissions and requeues (events are in ``apply``).

Each function runs inside a transaction the caller opened. Rows are written in id order so that
concurrent batches lock rows in the same order and cannot deadlock each other on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.job import Job
from jobqueue.store import driver
from jobqueue.store import events as ev
from jobqueue.store.apply import tracked_row
from jobqueue.store.tables import jobs

# What recording a submission may change in a record that a worker's events created first.
_SUBMITTED = ("type", "payload", "created_at")
_FILLED_IN = ("max_attempts", "idempotency_key")
# What a requeue keeps of a record: everything else starts over.
_KEPT_ON_REQUEUE = ("id", "created_at", "idempotency_key")


def job_time(job: Job) -> datetime:
    """When the job was created, from its wire field (now if that is not a timestamp)."""
    try:
        return ev.parse_time(job.created_at)
    except ValueError:
        return ev.utc_now()


def _submitted_upsert(insert: driver.Insert) -> sa.Insert:
    statement = insert(jobs).values(driver.row_binds(jobs))
    x = statement.excluded
    changes: dict[str, Any] = {name: x[name] for name in _SUBMITTED}
    changes.update({name: sa.func.coalesce(x[name], jobs.c[name]) for name in _FILLED_IN})
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[jobs.c.id], set_=changes
    )


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
    )
    return row


def _store_event(job: Job, kind: ev.EventKind, event_id: str, at: datetime) -> ev.JobEvent:
    return ev.JobEvent(
        event_id=event_id, job_id=job.id, kind=kind, attempt=job.attempts, at=at, job_type=job.type
    )


def record_submitted(
    connection: sa.Connection, submitted: Sequence[tuple[Job, str | None]]
) -> None:
    """Insert queued records (or fill in those events created) and their ``queued`` entries.

    ``submitted`` pairs each job with its idempotency key (or None).
    """
    unique: dict[str, tuple[Job, str | None]] = {}
    for job, key in submitted:
        unique[job.id] = (job, key or unique.get(job.id, (job, None))[1])
    ordered = [unique[job_id] for job_id in sorted(unique)]
    if not ordered:
        return
    rows = [_queued_row(job, job_time(job), key) for job, key in ordered]
    driver.execute_rows(connection, _submitted_upsert, rows)
    # A fixed id per job: recording the same submission twice adds one entry.
    entries = [
        _store_event(job, ev.EventKind.QUEUED, f"{job.id}:queued", job_time(job))
        for job, _ in ordered
    ]
    driver.append_history(connection, entries)


def record_requeued(connection: sa.Connection, requeued: Sequence[Job]) -> None:
    """Reset each job to queued with a fresh start, keeping (and adding to) its history."""
    now = ev.utc_now()
    ordered = sorted(requeued, key=lambda job: job.id)
    if not ordered:
        return
    driver.execute_rows(connection, _requeued_upsert, [_queued_row(j, now, None) for j in ordered])
    entries = [_store_event(j, ev.EventKind.REQUEUED, ev.new_event_id(), now) for j in ordered]
    driver.append_history(connection, entries)
