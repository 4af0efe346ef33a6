"""Operations on the ``broker_dead`` table: the dead-letter queue, kept in insertion order."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from jobqueue.brokers import DeadJob, Death
from jobqueue.job import Job

IDS_PER_STATEMENT = 500
"""Ids bound in one ``IN (...)`` list: well under SQLite's limit on bound parameters."""
_COLUMNS = (
    "message_id, body, reason, error, traceback, attempts, worker_id, failed_at, first_failed_at"
)


def insert(
    conn: sqlite3.Connection, queue: str, message_id: str, body: bytes, death: Death
) -> None:
    """Append a dead message with the reason it died."""
    conn.execute(
        f"INSERT INTO broker_dead (queue, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            queue,
            message_id,
            body,
            death.reason,
            death.error,
            death.traceback,
            death.attempts,
            death.worker_id,
            death.failed_at,
            death.first_failed_at,
        ),
    )


def oldest(conn: sqlite3.Connection, queue: str, limit: int) -> list[DeadJob]:
    """The oldest ``limit`` dead messages, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM broker_dead WHERE queue = ? ORDER BY seq LIMIT ?", (queue, limit)
    ).fetchall()
    return [_dead_job(row) for row in rows]


def find(conn: sqlite3.Connection, queue: str, message_id: str) -> DeadJob | None:
    """The oldest dead message with this id, or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM broker_dead WHERE queue = ? AND message_id = ?"
        " ORDER BY seq LIMIT 1",
        (queue, message_id),
    ).fetchone()
    return None if row is None else _dead_job(row)


def count(conn: sqlite3.Connection, queue: str) -> int:
    """How many dead messages the queue has."""
    return int(
        conn.execute("SELECT COUNT(*) FROM broker_dead WHERE queue = ?", (queue,)).fetchone()[0]
    )


def purge(conn: sqlite3.Connection, queue: str) -> int:
    """Delete every dead message of the queue; returns how many."""
    return conn.execute("DELETE FROM broker_dead WHERE queue = ?", (queue,)).rowcount


def replay(conn: sqlite3.Connection, queue: str, message_id: str, now: float) -> Job | None:
    """Move the oldest dead copy of ``message_id`` back to the queue with attempts reset.

    Raises ``DecodeError`` when its body is not a job; the caller's savepoint keeps it dead.
    """
    row = conn.execute(
        "SELECT seq, body FROM broker_dead WHERE queue = ? AND message_id = ? ORDER BY seq LIMIT 1",
        (queue, message_id),
    ).fetchone()
    if row is None:
        return None
    seq, body = row
    job = Job.decode(body).fresh()
    _requeue(conn, queue, seq, job, now)
    return job


def replay_batch(
    conn: sqlite3.Connection, queue: str, after_seq: int, now: float, limit: int
) -> tuple[int, int | None]:
    """Replay the decodable among the next ``limit`` dead rows after ``after_seq``.

    Returns (how many were replayed, the last seq looked at, or None when none were left).
    Undecodable bodies stay where they are.
    """
    rows = conn.execute(
        "SELECT seq, body FROM broker_dead WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?",
        (queue, after_seq, limit),
    ).fetchall()
    replayed = 0
    for seq, body in rows:
        try:
            job = Job.decode(body).fresh()
        except Exception:
            continue
        _requeue(conn, queue, seq, job, now)
        replayed += 1
    return replayed, (rows[-1][0] if rows else None)


def replay_ids(
    conn: sqlite3.Connection, queue: str, message_ids: Sequence[str], now: float
) -> list[Job]:
    """Replay the oldest dead copy of each of ``message_ids`` (at most
    :data:`IDS_PER_STATEMENT`) whose body is a job; returns the jobs queued, oldest first.
    Undecodable bodies stay."""
    marks = ", ".join("?" * len(message_ids))
    rows = conn.execute(
        "SELECT MIN(seq), body FROM broker_dead"
        f" WHERE queue = ? AND message_id IN ({marks}) GROUP BY message_id ORDER BY 1",
        (queue, *message_ids),
    ).fetchall()
    replayed = []
    for seq, body in rows:
        try:
            job = Job.decode(body).fresh()
        except Exception:
            continue
        _requeue(conn, queue, seq, job, now)
        replayed.append(job)
    return replayed


def purge_ids(conn: sqlite3.Connection, queue: str, message_ids: Sequence[str]) -> int:
    """Delete every dead copy of ``message_ids`` (at most :data:`IDS_PER_STATEMENT`)."""
    marks = ", ".join("?" * len(message_ids))
    return conn.execute(
        f"DELETE FROM broker_dead WHERE queue = ? AND message_id IN ({marks})",
        (queue, *message_ids),
    ).rowcount


def _requeue(conn: sqlite3.Connection, queue: str, seq: int, job: Job, now: float) -> None:
    conn.execute(
        "INSERT INTO broker_jobs (queue, message_id, body, job_type, priority, visible_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (queue, job.id, job.encode(), job.type, job.priority, now),
    )
    conn.execute("DELETE FROM broker_dead WHERE seq = ?", (seq,))


_DeadRow = tuple[str, bytes, str, str | None, str | None, int, str | None, str, str | None]


def _dead_job(row: _DeadRow) -> DeadJob:
    message_id, body, reason, error, traceback, attempts, worker_id, failed_at, first = row
    death = Death(
        reason=reason,
        error=error,
        traceback=traceback,
        attempts=attempts,
        worker_id=worker_id,
        failed_at=failed_at,
        first_failed_at=first,
    )
    return DeadJob(message_id=message_id, body=bytes(body), death=death)
