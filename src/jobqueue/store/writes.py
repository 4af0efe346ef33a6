"""The store's writes of job state: submissions, requeues and batches of workers' events.

Each function runs inside a transaction the caller opened. Rows are written in id order so that
concurrent batches lock rows in the same order and cannot deadlock each other on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from jobqueue.job import Job
from jobqueue.store import events as ev
from jobqueue.store.merge import merge_set
from jobqueue.store.tables import events, jobs

Insert = Callable[[sa.Table], Any]
_INSERTS: dict[str, Insert] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_for(connection: AsyncConnection) -> Insert:
    """The dialect's INSERT construct, the one with ``on_conflict_*``."""
    return _INSERTS[connection.dialect.name]


def job_time(job: Job) -> datetime:
    """When the job was created, from its wire field (now if that is not a timestamp)."""
    try:
        return ev.parse_time(job.created_at)
    except ValueError:
        return ev.utc_now()


def event_row(event: ev.JobEvent) -> dict[str, Any]:
    """The history row of one event."""
    return {
        "event_id": event.event_id,
        "job_id": event.job_id,
        "kind": event.kind.value,
        "attempt": event.attempt,
        "rank": event.rank,
        "at": event.at,
        "job_type": event.job_type,
        "worker_id": event.worker_id,
        "data": dict(event.data),
    }


def _job_row(tracked: ev.Tracked, **fields: Any) -> dict[str, Any]:
    row = asdict(tracked)
    row["state"] = tracked.state.value
    row.setdefault("cancel_requested", False)
    row.update(fields)
    row.setdefault("idempotency_key", None)
    row.setdefault("payload", None)
    return row


async def record_submitted(
    connection: AsyncConnection, submitted: Sequence[Job], keys: Mapping[str, str]
) -> None:
    """Insert queued records (or fill in those events created) and their ``queued`` entries."""
    if not submitted:
        return
    ordered = sorted(submitted, key=lambda job: job.id)
    rows = [
        _job_row(
            ev.queued(job_time(job), job.attempts),
            id=job.id,
            type=job.type,
            max_attempts=job.max_attempts,
            created_at=job_time(job),
            idempotency_key=keys.get(job.id),
            payload=job.payload,
        )
        for job in ordered
    ]
    insert = insert_for(connection)(jobs)
    x = insert.excluded
    await connection.execute(
        insert.on_conflict_do_update(
            index_elements=[jobs.c.id],
            set_={
                "type": x.type,
                "payload": x.payload,
                "created_at": x.created_at,
                "max_attempts": sa.func.coalesce(x.max_attempts, jobs.c.max_attempts),
                "idempotency_key": sa.func.coalesce(x.idempotency_key, jobs.c.idempotency_key),
            },
        ),
        rows,
    )
    history = [_store_event(job, ev.EventKind.QUEUED, f"{job.id}:queued") for job in ordered]
    await _append_history(connection, history)


def _store_event(job: Job, kind: ev.EventKind, event_id: str, at: datetime | None = None) -> Any:
    return {
        "event_id": event_id,
        "job_id": job.id,
        "kind": kind.value,
        "attempt": job.attempts,
        "rank": ev.QUEUED_RANK,
        "at": at or job_time(job),
        "job_type": job.type,
        "worker_id": None,
        "data": {},
    }


async def _append_history(connection: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert history rows, skipping event ids already there; returns the ids inserted."""
    if not rows:
        return set()
    insert = insert_for(connection)(events)
    statement = insert.on_conflict_do_nothing(index_elements=[events.c.event_id]).returning(
        events.c.event_id
    )
    result = await connection.execute(statement, rows)
    return set(result.scalars())


async def record_requeued(connection: AsyncConnection, requeued: Sequence[Job]) -> None:
    """Reset each job to queued with a fresh start, keeping (and adding to) its history."""
    now = ev.utc_now()
    ordered = sorted(requeued, key=lambda job: job.id)
    for job in ordered:
        row = _job_row(
            ev.queued(now, job.attempts),
            id=job.id,
            type=job.type,
            max_attempts=job.max_attempts,
            created_at=job_time(job),
            payload=job.payload,
        )
        insert = insert_for(connection)(jobs).values(row)
        reset = {name: insert.excluded[name] for name in row if name not in ("id", "created_at")}
        reset["idempotency_key"] = jobs.c.idempotency_key
        await connection.execute(
            insert.on_conflict_do_update(index_elements=[jobs.c.id], set_=reset)
        )
    history = [
        _store_event(job, ev.EventKind.REQUEUED, ev.new_event_id(), at=now) for job in ordered
    ]
    await _append_history(connection, history)


async def apply_events(connection: AsyncConnection, batch: Sequence[ev.JobEvent]) -> int:
    """Append the new events to the history and merge them into their jobs' records."""
    for event in batch:
        if event.kind not in ev.WORKER_KINDS:
            raise ValueError(f"{event.kind.value!r} events are written by the store itself")
    unique = list({event.event_id: event for event in reversed(batch)}.values())
    unique.sort(key=lambda event: event.event_id)
    fresh_ids = await _append_history(connection, [event_row(event) for event in unique])
    fresh = [event for event in unique if event.event_id in fresh_ids]
    rows = _proposed_rows(fresh)
    if rows:
        insert = insert_for(connection)(jobs)
        await connection.execute(
            insert.on_conflict_do_update(
                index_elements=[jobs.c.id], set_=merge_set(insert.excluded)
            ),
            rows,
        )
    return len(fresh)


def _proposed_rows(fresh: list[ev.JobEvent]) -> list[dict[str, Any]]:
    """One row per job: the merge of that job's new events, as the upsert proposes it."""
    by_job: dict[str, list[ev.JobEvent]] = {}
    for event in fresh:
        by_job.setdefault(event.job_id, []).append(event)
    rows = []
    for job_id in sorted(by_job):
        job_events = by_job[job_id]
        tracked = ev.fold(job_events)
        assert tracked is not None
        first = job_events[0]
        created_at = next((e.created_at for e in job_events if e.created_at), None)
        max_attempts = next((e.max_attempts for e in job_events if e.max_attempts), None)
        rows.append(
            _job_row(
                tracked,
                id=job_id,
                type=first.job_type,
                max_attempts=max_attempts,
                created_at=created_at or min(event.at for event in job_events),
            )
        )
    return rows
