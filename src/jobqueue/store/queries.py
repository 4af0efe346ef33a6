"""The store's lookups, listings and housekeeping: get, list, history, cancel, purge."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.config import QUEUE
from jobqueue.job import JobState
from jobqueue.store import counts, cursors, scheduled, selection
from jobqueue.store import events as ev
from jobqueue.store.selection import JobFilter
from jobqueue.store.tables import events, idempotency_keys, jobs
from jobqueue.store.values import JobRecord, Page

MAX_PAGE = 1000
_IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit
_WAITING = (
    *(JobState.SCHEDULED.value, JobState.QUEUED.value, JobState.RETRYING.value),
    JobState.WAITING.value,
)


def record_from_row(row: sa.Row[Any]) -> JobRecord:
    """A :class:`JobRecord` from a ``store_jobs`` row."""
    return JobRecord(
        id=row.id,
        type=row.type,
        state=JobState(row.state),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        worker_id=row.worker_id,
        progress=row.progress,
        progress_message=row.progress_message,
        result=row.result,
        error=row.error,
        next_attempt_at=row.next_attempt_at,
        cancel_requested=bool(row.cancel_requested),
        idempotency_key=row.idempotency_key,
        payload=row.payload,
        waiting_reason=row.waiting_reason,
        run_at=row.run_at,
        priority=row.priority or 0,
    )


def get(connection: sa.Connection, job_id: str) -> JobRecord | None:
    """One record by id."""
    result = connection.execute(sa.select(jobs).where(jobs.c.id == job_id))
    row = result.first()
    return None if row is None else record_from_row(row)


def encode_cursor(record: JobRecord) -> str:
    """An opaque cursor pointing just after ``record`` in newest-first order."""
    return cursors.encode(record.created_at, record.id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a cursor points after; InvalidCursor when it is not ours."""
    return cursors.decode(cursor)


def list_page(
    connection: sa.Connection,
    state: JobState | None,
    job_type: str | None,
    limit: int,
    cursor: str | None,
    job_filter: JobFilter | None = None,
) -> Page:
    """Records newest first, ``limit`` of them (at most :data:`MAX_PAGE`), after ``cursor``,
    of ``state`` and ``job_type`` and matching ``job_filter``."""
    limit = max(1, min(limit, MAX_PAGE))
    job_filter = dataclasses.replace(job_filter or JobFilter(), state=state, type=job_type)
    query = page_query(connection.dialect.name, job_filter, limit + 1, cursor)
    records = [record_from_row(row) for row in connection.execute(query)]
    more = len(records) > limit
    records = records[:limit]
    return Page(records, encode_cursor(records[-1]) if more else None)


def page_query(
    dialect: str, job_filter: JobFilter, limit: int, cursor: str | None
) -> sa.Select[Any]:
    """The query of a listing's page: ``limit`` jobs newest first after ``cursor``."""
    query = sa.select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
    query = query.where(*selection.conditions(dialect, job_filter))
    if cursor is not None:
        created_at, job_id = decode_cursor(cursor)
        query = query.where(
            jobs.c.created_at <= created_at,  # a range the index seeks to: a deep page is fast
            sa.or_(
                jobs.c.created_at < created_at,
                sa.and_(jobs.c.created_at == created_at, jobs.c.id < job_id),
            ),
        )
    return query


def event_from_row(row: sa.Row[Any]) -> ev.JobEvent:
    """A :class:`JobEvent` from a ``store_events`` row."""
    return ev.JobEvent(
        event_id=row.event_id,
        job_id=row.job_id,
        kind=ev.EventKind(row.kind),
        attempt=row.attempt,
        at=row.at,
        job_type=row.job_type,
        worker_id=row.worker_id,
        data=row.data,
    )


def history(connection: sa.Connection, job_id: str) -> list[ev.JobEvent]:
    """A job's events, oldest first, then by position in its life."""
    query = (
        sa.select(events)
        .where(events.c.job_id == job_id)
        .order_by(events.c.at, events.c.rank, events.c.event_id)
    )
    return [event_from_row(row) for row in connection.execute(query)]


def request_cancel(
    connection: sa.Connection, job_id: str, queue: str | None = QUEUE
) -> JobRecord | None:
    """Cancel a waiting job at once (counted as cancelled in ``queue``, unless None), or flag
    a running one; append what happened."""
    scheduled.unschedule(connection, job_id)  # first: a cancelled one is never published
    now = ev.utc_now()
    cancelled = connection.execute(
        sa.update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state.in_(_WAITING))
        .values(
            state=JobState.CANCELLED.value,
            rank=ev.TERMINAL_RANK,
            rank_at=now,
            finished_at=now,
            updated_at=now,
            next_attempt_at=None,
            cancel_requested=True,
        )
    )
    kind = ev.EventKind.CANCELLED
    if cancelled.rowcount == 0:
        flagged = connection.execute(
            sa.update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.state == JobState.RUNNING.value,
                sa.not_(jobs.c.cancel_requested),
            )
            .values(cancel_requested=True, updated_at=now)
        )
        kind = ev.EventKind.CANCEL_REQUESTED
        if flagged.rowcount == 0:
            return get(connection, job_id)
    record = get(connection, job_id)
    assert record is not None
    connection.execute(sa.insert(events).values(_cancel_event(record, kind, now)))
    if kind is ev.EventKind.CANCELLED and queue is not None:
        counts.add_on(connection, [(counts.minute_of(now), queue, record.type, "cancelled", 1)])
    return record


def _cancel_event(record: JobRecord, kind: ev.EventKind, now: datetime) -> dict[str, Any]:
    attempt = max(record.attempts - 1, 0)
    return {
        "event_id": ev.new_event_id(),
        "job_id": record.id,
        "kind": kind.value,
        "attempt": attempt,
        "rank": ev.rank(kind, attempt),
        "at": now,
        "job_type": record.type,
        "worker_id": None,
        "data": {"reason": "requested"},
    }


def cancel_requested(connection: sa.Connection, job_ids: Sequence[str]) -> set[str]:
    """Which of the ids carry a cancel request."""
    found: set[str] = set()
    unique = sorted(set(job_ids))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        query = sa.select(jobs.c.id).where(jobs.c.id.in_(chunk), jobs.c.cancel_requested)
        found.update(connection.execute(query).scalars())
    return found


def purge_some(connection: sa.Connection, cutoff: datetime, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` jobs finished before ``cutoff`` (with their history) and up to
    ``limit`` idempotency keys made before it; returns how many of each went."""
    old_jobs = sa.select(jobs.c.id).where(jobs.c.finished_at < cutoff).limit(limit)
    ids = list(connection.execute(old_jobs).scalars())
    if ids:
        connection.execute(sa.delete(events).where(events.c.job_id.in_(ids)))
        connection.execute(sa.delete(jobs).where(jobs.c.id.in_(ids)))
    old_keys = (
        sa.select(idempotency_keys.c.key)
        .where(idempotency_keys.c.created_at < cutoff)
        .limit(limit)
        .scalar_subquery()
    )
    keys = connection.execute(
        sa.delete(idempotency_keys).where(idempotency_keys.c.key.in_(old_keys))
    )
    return len(ids), keys.rowcount


def state_counts(connection: sa.Connection) -> dict[JobState, int]:
    """How many jobs the store holds in each state (every state present, zero or more)."""
    query = sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
    found = {JobState(state): int(count) for state, count in connection.execute(query)}
    return {state: found.get(state, 0) for state in JobState}
