"""Statements compiled once per dialect and run on the database driver directly.

The store's frequent writes (workers' events, submissions) would otherwise spend more CPU
building and binding SQLAlchemy constructs than the database spends running them. Here each
statement is compiled once, and values are converted to what the driver takes in one pass:
timestamps to SQLite's DATETIME text (or kept as datetimes for asyncpg), JSON to exact text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from jobqueue import codec
from jobqueue.store import events as ev
from jobqueue.store.tables import JsonText, UtcDateTime, events, jobs

Insert = Callable[[sa.Table], Any]
Build = Callable[[Insert], sa.Insert]
_INSERTS: dict[str, Insert] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# SQLite and asyncpg both take up to 32767 parameters in one statement. A multi-row INSERT is
# prepared once per row count and kept in the driver's statement cache (per connection); row
# counts are powers of two up to this, so that ten statements serve every batch size, rather
# than one large cached statement per size seen (which grew the API by megabytes an hour).
_ROWS_PER_INSERT = 512
_EVENT_COLUMNS = tuple(column.name for column in events.c)
_TIME_COLUMNS = frozenset(c.name for c in (*jobs.c, *events.c) if isinstance(c.type, UtcDateTime))
_JSON_COLUMNS = frozenset(c.name for c in (*jobs.c, *events.c) if isinstance(c.type, JsonText))


def dialect_insert(dialect_name: str) -> Insert:
    """The dialect's INSERT construct, the one with ``on_conflict_*``."""
    return _INSERTS[dialect_name]


def row_binds(table: sa.Table) -> dict[str, sa.BindParameter[Any]]:
    """A bound parameter named after each column: the VALUES of a one-row statement."""
    return {column.name: sa.bindparam(column.name) for column in table.c}


def sqlite_time(moment: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DATETIME writes (and parses back): naive UTC, microseconds."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:-6]  # less its "+00:00"


def _json(value: Any) -> str | None:
    return None if value is None else codec.dumps(value).decode("utf-8")


def _same(value: Any) -> Any:
    return value


def time_converter(dialect_name: str) -> Callable[[Any], Any]:
    """How a timestamp goes to the driver: text on SQLite, as it is to asyncpg."""
    return sqlite_time if dialect_name == "sqlite" else _same


@functools.cache
def _converters(dialect_name: str, columns: tuple[str, ...]) -> tuple[Callable[[Any], Any], ...]:
    time = time_converter(dialect_name)
    return tuple(
        time if name in _TIME_COLUMNS else _json if name in _JSON_COLUMNS else _same
        for name in columns
    )


@functools.cache
@functools.cache
def compiled(dialect: Dialect, build: Build) -> tuple[str, tuple[str, ...]]:
    """``build``'s statement as SQL text for ``dialect``, and the names it binds, in order;
    compiled once per dialect (SQLAlchemy's compiler costs more than a small batch's insert)."""
    compiled = build(dialect_insert(dialect.name)).compile(dialect=dialect)
    assert compiled.positiontup is not None, "the store's dialects bind positionally"
    return compiled.string, tuple(compiled.positiontup)


def execute_rows(
    connection: sa.Connection, build: Build, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run ``build``'s statement once per row (one executemany)."""
    sql, names = compiled(connection.dialect, build)
    convert = _converters(connection.dialect.name, names)
    params = [
        tuple(to_driver(row[name]) for to_driver, name in zip(convert, names, strict=True))
        for row in rows
    ]
    connection.exec_driver_sql(sql, params)


@functools.cache
def _history_insert(dialect_name: str, rows: int) -> str:
    """A multi-row history INSERT that skips known event ids and returns the new ones."""
    width = len(_EVENT_COLUMNS)
    if dialect_name == "sqlite":
        marks = ["?"] * (rows * width)
    else:
        marks = [f"${n}" for n in range(1, rows * width + 1)]
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


def append_history(connection: sa.Connection, batch: Sequence[ev.JobEvent]) -> set[str]:
    """Insert the events' history rows; returns the ids that were not there before."""
    name = connection.dialect.name
    convert = _converters(name, _EVENT_COLUMNS)
    fresh: set[str] = set()
    start = 0
    while start < len(batch):
        rows = min(_ROWS_PER_INSERT, 1 << ((len(batch) - start).bit_length() - 1))
        chunk = batch[start : start + rows]
        start += rows
        flat = [
            to_driver(value)
            for event in chunk
            for to_driver, value in zip(convert, _event_values(event), strict=True)
        ]
        result = connection.exec_driver_sql(_history_insert(name, len(chunk)), tuple(flat))
        fresh.update(result.scalars())
    return fresh
