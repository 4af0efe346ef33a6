"""Idempotency keys: reserve before publishing, confirm after, so a retried POST never duplicates.

A reservation is one row inserted with ``ON CONFLICT DO NOTHING``: of several concurrent
callers exactly one inserts it. The others read the row (locked ``FOR UPDATE`` on PostgreSQL,
behind ``BEGIN IMMEDIATE`` on SQLite) and learn whether it is theirs to answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from jobqueue.store import events as ev
from jobqueue.store.driver import dialect_insert
from jobqueue.store.queries import get
from jobqueue.store.tables import idempotency_keys as keys
from jobqueue.store.values import IdempotencyOutcome, Reservation


def reserve(
    connection: sa.Connection, key: str, body_hash: str, job_id: str, in_flight_timeout_s: float
) -> IdempotencyOutcome:
    """Reserve ``key`` for ``job_id``; see ``Store.reserve_idempotency_key``."""
    now = ev.utc_now()
    row = {"key": key, "body_hash": body_hash, "job_id": job_id, "confirmed": False}
    insert = dialect_insert(connection.dialect.name)(keys).values(created_at=now, **row)
    inserted = connection.execute(
        insert.on_conflict_do_nothing(index_elements=[keys.c.key]).returning(keys.c.key)
    )
    if inserted.first() is not None:
        return IdempotencyOutcome(Reservation.NEW, job_id)
    held = _locked_row(connection, key)
    if held is None:  # released between our insert and read: the caller may simply retry
        return IdempotencyOutcome(Reservation.IN_FLIGHT, job_id)
    if held.body_hash != body_hash:
        return IdempotencyOutcome(Reservation.CONFLICT, held.job_id)
    if held.confirmed:
        return IdempotencyOutcome(Reservation.EXISTING, held.job_id, get(connection, held.job_id))
    if now - held.created_at < timedelta(seconds=in_flight_timeout_s):
        return IdempotencyOutcome(Reservation.IN_FLIGHT, held.job_id)
    return _take_over(connection, key, held.job_id, job_id)


def _locked_row(connection: sa.Connection, key: str) -> Any:
    query = sa.select(keys).where(keys.c.key == key)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _take_over(
    connection: sa.Connection, key: str, old_job_id: str, job_id: str
) -> IdempotencyOutcome:
    """An abandoned reservation: its job was accepted after all, or the key is ours now."""
    record = get(connection, old_job_id)
    if record is not None:
        confirm(connection, key, old_job_id)
        return IdempotencyOutcome(Reservation.EXISTING, old_job_id, record)
    connection.execute(
        sa.update(keys)
        .where(keys.c.key == key, keys.c.job_id == old_job_id)
        .values(job_id=job_id, created_at=ev.utc_now())
    )
    return IdempotencyOutcome(Reservation.NEW, job_id)


def confirm(connection: sa.Connection, key: str, job_id: str | None) -> None:
    """Mark the reservation accepted (only if it is still ``job_id``'s, when given)."""
    query = sa.update(keys).where(keys.c.key == key).values(confirmed=True)
    if job_id is not None:
        query = query.where(keys.c.job_id == job_id)
    connection.execute(query)


def release(connection: sa.Connection, key: str, job_id: str | None) -> None:
    """Drop an unconfirmed reservation (only if it is still ``job_id``'s, when given)."""
    query = sa.delete(keys).where(keys.c.key == key, sa.not_(keys.c.confirmed))
    if job_id is not None:
        query = query.where(keys.c.job_id == job_id)
    connection.execute(query)
