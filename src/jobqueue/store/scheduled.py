"""Delayed jobs in the store: recorded as ``scheduled``, claimed once due, handed to the broker.

A delayed job is two rows: its record in ``store_jobs`` (state ``scheduled``, ``run_at`` shown
to clients) and a row in ``store_scheduled`` holding what must be published (the wire body and
the message headers), indexed by ``run_at``. Only waiting jobs have a ``store_scheduled`` row, so
a million jobs far in the future cost the due-now path nothing but one index probe.

Hand-over, in one transaction: :func:`claim_due` locks the due rows (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL: each replica gets other rows; on SQLite the caller holds the write
lock), the caller publishes them and awaits the broker's confirm, then :func:`mark_promoted`
deletes the rows and marks the jobs queued, and the transaction commits. A crash between the
confirm and the commit publishes the jobs again: at least once, never lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.config import QUEUE
from jobqueue.job import Job, JobState
from jobqueue.store import counts, driver
from jobqueue.store import events as ev
from jobqueue.store.tables import jobs, scheduled

_SCHEDULED_RANK = ev.rank(ev.EventKind.SCHEDULED, 0)  # 0: below every worker's event


@dataclass(frozen=True, slots=True)
class DueJob:
    """A claimed scheduled job: the job to publish and when it was due."""

    job: Job
    run_at: datetime


def run_at_of(job: Job) -> datetime:
    """The job's ``run_at`` as a UTC datetime; ValueError when it has none."""
    if job.run_at is None:
        raise ValueError(f"job {job.id} has no run_at")
    return ev.parse_time(job.run_at)


def record_scheduled(
    connection: sa.Connection,
    submitted: Sequence[Job],
    queue: str | None = QUEUE,
    idempotency_keys: Mapping[str, str] | None = None,
) -> None:
    """Record delayed jobs (each with its ``run_at``) as ``scheduled``, keep what the promoter
    publishes, and count them submitted to ``queue`` (None: not counted).

    Runs inside the caller's transaction (any SQLAlchemy connection of the store), so another
    write (a cron tick's) commits with it. A job recorded before is left as it is.
    """
    unique = {job.id: job for job in submitted}
    if not unique:
        return
    ordered = [unique[job_id] for job_id in sorted(unique)]
    keys = idempotency_keys or {}
    now = ev.utc_now()
    insert = driver.dialect_insert(connection.dialect.name)
    new_ids = _inserted_ids(
        connection,
        insert(jobs).on_conflict_do_nothing(index_elements=[jobs.c.id]).returning(jobs.c.id),
        [_job_row(job, now, keys.get(job.id)) for job in ordered],
    )
    fresh = [job for job in ordered if job.id in new_ids]
    if not fresh:
        return
    connection.execute(
        insert(scheduled).on_conflict_do_nothing(index_elements=[scheduled.c.job_id]),
        [_waiting_row(job) for job in fresh],
    )
    driver.append_history(connection, [_scheduled_event(job, now) for job in fresh])
    if queue is not None:
        minute = counts.minute_of(now)
        tally = counts.tally((minute, queue, job.type, counts.SUBMITTED) for job in fresh)
        counts.add_on(connection, tally)


def _inserted_ids(
    connection: sa.Connection, statement: Any, rows: list[dict[str, Any]]
) -> set[str]:
    result = connection.execute(statement, rows)
    return set(result.scalars())


def _job_row(job: Job, now: datetime, key: str | None) -> dict[str, Any]:
    created = _created(job, now)
    return {
        "id": job.id,
        "type": job.type,
        "state": JobState.SCHEDULED.value,
        "rank": _SCHEDULED_RANK,
        "rank_at": created,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "created_at": created,
        "updated_at": now,
        "cancel_requested": False,
        "idempotency_key": key,
        "payload": job.payload,
        "run_at": run_at_of(job),
    }


def _created(job: Job, now: datetime) -> datetime:
    try:
        return ev.parse_time(job.created_at)
    except ValueError:
        return now


def _waiting_row(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.id,
        "run_at": run_at_of(job),
        "body": job.encode().decode("utf-8"),
        "headers": dict(job.headers) if job.headers else None,
    }


def _scheduled_event(job: Job, now: datetime) -> ev.JobEvent:
    return ev.JobEvent(
        event_id=f"{job.id}:scheduled",
        job_id=job.id,
        kind=ev.EventKind.SCHEDULED,
        attempt=job.attempts,
        at=now,
        job_type=job.type,
        data={"run_at": job.run_at},
    )


def claim_due(connection: sa.Connection, now: datetime, limit: int) -> list[DueJob]:
    """Lock and return up to ``limit`` jobs due by ``now``, earliest first (rows another
    transaction holds are skipped on PostgreSQL)."""
    query = (
        sa.select(scheduled)
        .where(scheduled.c.run_at <= now)
        .order_by(scheduled.c.run_at, scheduled.c.job_id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [_due(row) for row in connection.execute(query)]


def _due(row: Any) -> DueJob:
    headers = row.headers if isinstance(row.headers, dict) else None
    return DueJob(Job.decode(row.body.encode("utf-8"), headers), row.run_at)


def mark_promoted(connection: sa.Connection, promoted: Sequence[DueJob]) -> None:
    """The claimed jobs were published: drop their rows, mark them queued (unless a worker's
    event moved them on already) and add a ``queued`` history entry."""
    if not promoted:
        return
    ids = sorted(due.job.id for due in promoted)
    now = ev.utc_now()
    connection.execute(sa.delete(scheduled).where(scheduled.c.job_id.in_(ids)))
    # By id alone, the state tested in SET: were it in WHERE, SQLite's planner would take the
    # state index and walk every scheduled job (a million waiting: 300 ms a promotion).
    waiting = jobs.c.state == JobState.SCHEDULED.value
    at = sa.literal(now, jobs.c.updated_at.type)
    connection.execute(
        sa.update(jobs)
        .where(jobs.c.id.in_(ids))
        .values(
            state=sa.case((waiting, JobState.QUEUED.value), else_=jobs.c.state),
            rank_at=sa.case((waiting, at), else_=jobs.c.rank_at),
            updated_at=sa.case((waiting, at), else_=jobs.c.updated_at),
        )
    )
    entries = [
        ev.JobEvent(
            event_id=f"{due.job.id}:queued",
            job_id=due.job.id,
            kind=ev.EventKind.QUEUED,
            attempt=due.job.attempts,
            at=now,
            job_type=due.job.type,
            data={"run_at": due.job.run_at},
        )
        for due in promoted
    ]
    driver.append_history(connection, entries)


def unschedule(connection: sa.Connection, job_id: str) -> bool:
    """Take a scheduled job off the schedule (to cancel it); False when it has no row (never
    scheduled, or published already). Waits for a promoter that holds the row."""
    deleted = connection.execute(sa.delete(scheduled).where(scheduled.c.job_id == job_id))
    return bool(deleted.rowcount)


def next_run_at(connection: sa.Connection) -> datetime | None:
    """The earliest ``run_at`` of a waiting job, or None when none waits."""
    earliest = sa.select(scheduled.c.run_at).order_by(scheduled.c.run_at).limit(1)
    value: datetime | None = connection.execute(earliest).scalar()
    return value


def waiting_count(connection: sa.Connection) -> int:
    """How many scheduled jobs wait."""
    return int(connection.execute(sa.select(sa.func.count()).select_from(scheduled)).scalar() or 0)
