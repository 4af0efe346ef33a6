"""The store's own writes of job state: submissions and requeues (events are in ``apply``).

Each function runs inside a transaction the caller opened. Rows are written in id order so that
concurrent batches lock rows in the same order and cannot deadlock each other on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from jobqueue.job import Job
from jobqueue.store import events as ev
from jobqueue.store.tables import events, jobs

Insert = Callable[[sa.Table], Any]
_INSERTS: dict[str, Insert] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_for(connection: AsyncConnection) -> Insert:
    """The dialect's INSERT construct, the one with ``on_conflict_*``."""
    return dialect_insert(connection.dialect.name)


def dialect_insert(dialect_name: str) -> Insert:
    """The INSERT construct of the dialect named."""
    return _INSERTS[dialect_name]


def job_time(job: Job) -> datetime:
    """When the job was created, from its wire field (now if that is not a timestamp)."""
    try:
        return ev.parse_time(job.created_at)
    except ValueError:
        return ev.utc_now()


_TRACKED_FIELDS = tuple(field.name for field in fields(ev.Tracked))


def _job_row(tracked: ev.Tracked, **extra: Any) -> dict[str, Any]:
    row = {name: getattr(tracked, name) for name in _TRACKED_FIELDS}
    row["state"] = tracked.state.value
    row.setdefault("cancel_requested", False)
    row.update(extra)
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
