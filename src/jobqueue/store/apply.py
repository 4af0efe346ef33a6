"""Applying a batch of workers' events: the store's hot path, two statements per batch.

1. The batch's events go into the history with one multi-row ``INSERT ... ON CONFLICT
   (event_id) DO NOTHING RETURNING event_id``: what comes back are the events never seen.
2. Those are folded per job in Python (:func:`jobqueue.store.events.fold`) into one proposed
   row per job, merged into ``store_jobs`` by one ``INSERT ... ON CONFLICT (id) DO UPDATE``
   (:mod:`jobqueue.store.merge`) run for every row at once (executemany).

Both statements are compiled once per dialect and run through the driver directly, with the
values converted here, because building and binding SQLAlchemy constructs per batch cost more
CPU than the database work itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from jobqueue import codec
from jobqueue.store import events as ev
from jobqueue.store.merge import merge_set
from jobqueue.store.tables import events, jobs
from jobqueue.store.writes import dialect_insert

# SQLite and asyncpg both take up to 32767 parameters in one statement.
_ROWS_PER_INSERT = 1000
_EVENT_COLUMNS = tuple(column.name for column in events.c)
_TRACKED_FIELDS = tuple(field.name for field in fields(ev.Tracked))
_TIME_COLUMNS = frozenset(
    column.name
    for column in (*jobs.c, *events.c)
    if isinstance(column.type, sa.TypeDecorator) and isinstance(column.type.impl, sa.DateTime)
)
_JSON_COLUMNS = frozenset({"result", "payload", "data"})


def _sqlite_time(moment: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DATETIME writes (and parses back): naive UTC, microseconds.
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json(value: Any) -> str | None:
    return None if value is None else codec.dumps(value).decode("utf-8")


def _same(value: Any) -> Any:
    return value


@functools.cache
def _converters(dialect_name: str, columns: tuple[str, ...]) -> tuple[Callable[[Any], Any], ...]:
    time = _sqlite_time if dialect_name == "sqlite" else _same
    return tuple(
        time if name in _TIME_COLUMNS else _json if name in _JSON_COLUMNS else _same
        for name in columns
    )


@functools.cache
def _upsert(dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """The merge upsert's SQL text for ``dialect`` and the row columns it binds, in order."""
    statement = dialect_insert(dialect.name)(jobs).values(
        {column.name: sa.bindparam(column.name) for column in jobs.c}
    )
    statement = statement.on_conflict_do_update(
        index_elements=[jobs.c.id], set_=merge_set(statement.excluded)
    )
    compiled = statement.compile(dialect=dialect)
    assert compiled.positiontup is not None
    return compiled.string, tuple(compiled.positiontup)


@functools.cache
def _history_insert(dialect_name: str, rows: int) -> str:
    """A multi-row history INSERT that skips known event ids and returns the new ones."""
    width = len(_EVENT_COLUMNS)
    if dialect_name == "sqlite":
        groups = ", ".join(["(" + ", ".join("?" * width) + ")"] * rows)
    else:
        numbers = range(1, rows * width + 1)
        marks = [f"${n}" for n in numbers]
        groups = ", ".join(
            "(" + ", ".join(marks[row * width : (row + 1) * width]) + ")" for row in range(rows)
        )
    return (
        f"INSERT INTO {events.name} ({', '.join(_EVENT_COLUMNS)}) VALUES {groups} "
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
    )


def _event_values(event: ev.JobEvent) -> tuple[Any, ...]:
    return (
        event.event_id,
        event.job_id,
        event.kind.value,
        event.attempt,
        event.rank,
        event.at,
        event.job_type,
        event.worker_id,
        dict(event.data),
    )


async def append_history(connection: AsyncConnection, batch: Sequence[ev.JobEvent]) -> set[str]:
    """Insert the events' history rows; returns the ids that were not there before."""
    name = connection.dialect.name
    convert = _converters(name, _EVENT_COLUMNS)
    fresh: set[str] = set()
    for start in range(0, len(batch), _ROWS_PER_INSERT):
        chunk = batch[start : start + _ROWS_PER_INSERT]
        flat = [
            to_driver(value)
            for event in chunk
            for to_driver, value in zip(convert, _event_values(event), strict=True)
        ]
        result = await connection.exec_driver_sql(_history_insert(name, len(chunk)), tuple(flat))
        fresh.update(result.scalars())
    return fresh


def proposed_rows(fresh: Sequence[ev.JobEvent]) -> list[dict[str, Any]]:
    """One row per job, in id order: the fold of that job's new events."""
    by_job: dict[str, list[ev.JobEvent]] = {}
    for event in fresh:
        by_job.setdefault(event.job_id, []).append(event)
    return [_proposed_row(job_id, by_job[job_id]) for job_id in sorted(by_job)]


def _proposed_row(job_id: str, job_events: list[ev.JobEvent]) -> dict[str, Any]:
    tracked = ev.fold(job_events)
    assert tracked is not None
    row = {name: getattr(tracked, name) for name in _TRACKED_FIELDS}
    row["state"] = tracked.state.value
    created_at = next((e.created_at for e in job_events if e.created_at), None)
    row.update(
        id=job_id,
        type=job_events[0].job_type,
        max_attempts=next((e.max_attempts for e in job_events if e.max_attempts), None),
        created_at=created_at or min(event.at for event in job_events),
        cancel_requested=False,
        idempotency_key=None,
        payload=None,
    )
    return row


async def merge_rows(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Merge proposed rows into ``store_jobs`` (insert the new jobs, merge the known)."""
    sql, columns = _upsert(connection.dialect)
    convert = _converters(connection.dialect.name, columns)
    params = [
        tuple(to_driver(row[name]) for to_driver, name in zip(convert, columns, strict=True))
        for row in rows
    ]
    await connection.exec_driver_sql(sql, params)


async def apply_events(connection: AsyncConnection, batch: Sequence[ev.JobEvent]) -> int:
    """Append the new events to the history and merge them into their jobs' records."""
    for event in batch:
        if event.kind not in ev.WORKER_KINDS:
            raise ValueError(f"{event.kind.value!r} events are written by the store itself")
    # One of each id, in id order: concurrent batches then take index locks in the same order.
    unique = sorted({event.event_id: event for event in batch}.values(), key=_event_id)
    if not unique:
        return 0
    fresh_ids = await append_history(connection, unique)
    fresh = [event for event in unique if event.event_id in fresh_ids]
    if fresh:
        await merge_rows(connection, proposed_rows(fresh))
    return len(fresh)


def _event_id(event: ev.JobEvent) -> str:
    return event.event_id
