"""Queue depth by state, one sample per queue and minute (the last one taken that minute), for
the dashboard's depth charts; a restart keeps the history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from jobqueue.store.counts import bucket_start, minute_of
from jobqueue.store.driver import dialect_insert
from jobqueue.store.tables import queue_depths


@dataclass(frozen=True, slots=True)
class DepthPoint:
    """The depth of one state at the bucket starting ``at`` (the highest sample in it)."""

    at: datetime
    state: str
    value: int


def record(connection: sa.Connection, at: datetime, queue: str, depth: Mapping[str, int]) -> None:
    """File ``depth`` (state → jobs) as ``queue``'s sample of ``at``'s minute."""
    if not depth:
        return
    minute = minute_of(at)
    rows = [
        {"minute": minute, "queue": queue, "state": state, "value": int(value)}
        for state, value in sorted(depth.items())
    ]
    insert = dialect_insert(connection.dialect.name)(queue_depths)
    statement = insert.on_conflict_do_update(
        index_elements=[queue_depths.c.minute, queue_depths.c.queue, queue_depths.c.state],
        set_={"value": insert.excluded.value},
    )
    connection.execute(statement, rows)


def series(
    connection: sa.Connection, queue: str, since: datetime, bucket_s: float
) -> list[DepthPoint]:
    """``queue``'s depth per state in buckets of ``bucket_s`` (whole minutes) from ``since``,
    oldest first; a bucket shows its highest sample."""
    c = queue_depths.c
    query = sa.select(c.minute, c.state, c.value).where(
        c.queue == queue, c.minute >= minute_of(since)
    )
    highest: dict[tuple[datetime, str], int] = {}
    for minute, state, value in connection.execute(query):
        key = (bucket_start(minute, bucket_s), state)
        highest[key] = max(highest.get(key, 0), int(value))
    return [DepthPoint(at, state, value) for (at, state), value in sorted(highest.items())]


def delete_before(connection: sa.Connection, cutoff: datetime) -> None:
    """Forget the samples of minutes before ``cutoff``."""
    connection.execute(sa.delete(queue_depths).where(queue_depths.c.minute < minute_of(cutoff)))
