"""Unique jobs: a key held by one job for a while, so a second submission gets that job back.

A claim is one row per key inserted with ``ON CONFLICT DO NOTHING``: of several replicas racing
on PostgreSQL exactly one inserts it. The others lock the row (``FOR UPDATE``; on SQLite the
transaction holds the write lock) and see whether its job still holds the key: for ``for``,
until ``expires_at``; for ``queued``, while the job has not started; for ``running``, until it
finishes. A job not recorded yet (being published now) holds it for the in-flight timeout.
A key no longer held is taken over by the new job.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from jobqueue.job import JobState
from jobqueue.store import events as ev
from jobqueue.store.driver import dialect_insert
from jobqueue.store.queries import get
from jobqueue.store.tables import unique_keys as keys
from jobqueue.store.values import DEFAULT_IN_FLIGHT_TIMEOUT_S, JobRecord

MAX_UNIQUE_KEY_CHARS = 255


class Hold(enum.StrEnum):
    """How long a job holds its unique key."""

    FOR = "for"  # a fixed number of seconds
    QUEUED = "queued"  # while the job has not started
    RUNNING = "running"  # until the job finishes


_NOT_STARTED = frozenset({JobState.SCHEDULED, JobState.QUEUED})


@dataclass(frozen=True, slots=True)
class UniqueClaim:
    """A job asking for ``key``: held as ``hold`` says (``for_s`` seconds for ``FOR``)."""

    key: str
    job_id: str
    hold: Hold
    for_s: float | None = None


@dataclass(frozen=True, slots=True)
class UniqueOutcome:
    """Who holds the key after a claim: ``job_id`` (the claimant's when ``new``) and, when
    another job holds it, that job's record (None while it is not recorded yet)."""

    new: bool
    job_id: str
    record: JobRecord | None = None


def claim(connection: sa.Connection, claims: Sequence[UniqueClaim]) -> list[UniqueOutcome]:
    """Claim each key in order (rows locked in key order: no deadlocks between replicas)."""
    now = ev.utc_now()
    outcomes: dict[int, UniqueOutcome] = {}
    for index in sorted(range(len(claims)), key=lambda i: claims[i].key):
        outcomes[index] = _claim_one(connection, claims[index], now)
    return [outcomes[index] for index in range(len(claims))]


def _claim_one(connection: sa.Connection, wanted: UniqueClaim, now: datetime) -> UniqueOutcome:
    row = _row(wanted, now)
    insert = dialect_insert(connection.dialect.name)(keys).values(**row)
    inserted = connection.execute(
        insert.on_conflict_do_nothing(index_elements=[keys.c.key]).returning(keys.c.key)
    )
    if inserted.first() is not None:
        return UniqueOutcome(True, wanted.job_id)
    held = _locked_row(connection, wanted.key)
    if held is not None:
        record = get(connection, held.job_id)
        if _still_held(held, record, now):
            return UniqueOutcome(False, held.job_id, record)
        connection.execute(sa.update(keys).where(keys.c.key == wanted.key).values(**row))
        return UniqueOutcome(True, wanted.job_id)
    connection.execute(sa.insert(keys).values(**row))  # released meanwhile
    return UniqueOutcome(True, wanted.job_id)


def _row(wanted: UniqueClaim, now: datetime) -> dict[str, Any]:
    expires = None if wanted.for_s is None else now + timedelta(seconds=wanted.for_s)
    return {
        "key": wanted.key,
        "job_id": wanted.job_id,
        "hold": wanted.hold.value,
        "expires_at": expires,
        "created_at": now,
    }


def _locked_row(connection: sa.Connection, key: str) -> Any:
    query = sa.select(keys).where(keys.c.key == key)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _still_held(held: Any, record: JobRecord | None, now: datetime) -> bool:
    if held.hold == Hold.FOR.value:
        return bool(held.expires_at is not None and now < held.expires_at)
    if record is None:  # being published right now, or its publish failed unnoticed
        return bool(now - held.created_at < timedelta(seconds=DEFAULT_IN_FLIGHT_TIMEOUT_S))
    if held.hold == Hold.QUEUED.value:
        return record.state in _NOT_STARTED
    return not record.finished


def release(connection: sa.Connection, pairs: Sequence[tuple[str, str]]) -> None:
    """Drop the keys that are still held by the given jobs (``(key, job_id)`` pairs): their
    submission failed."""
    for key, job_id in sorted(pairs):
        connection.execute(sa.delete(keys).where(keys.c.key == key, keys.c.job_id == job_id))


def purge_before(connection: sa.Connection, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` keys claimed before ``cutoff`` whose fixed window is over (keys
    held while a job waits or runs go with the job's retention); returns how many."""
    old = (
        sa.select(keys.c.key)
        .where(keys.c.created_at < cutoff)
        .where(sa.or_(keys.c.expires_at.is_(None), keys.c.expires_at < cutoff))
        .limit(limit)
        .scalar_subquery()
    )
    return int(connection.execute(sa.delete(keys).where(keys.c.key.in_(old))).rowcount)
