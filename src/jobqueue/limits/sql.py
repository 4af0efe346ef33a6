"""The limits in the job store (SQLite or PostgreSQL): leased slot rows and token buckets.

Each acquisition is one short write transaction that first locks the name's bucket row (made
on first use): on PostgreSQL with ``SELECT ... FOR UPDATE``, on SQLite by the transaction's
write lock itself (``BEGIN IMMEDIATE``). Counting the live slots and adding one can then not
race another API replica's acquisition for the same name. Times are Unix seconds of the API's
clock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa

from jobqueue.limits.backend import (
    FULL,
    GRANTED,
    Grant,
    LimitOp,
    Release,
    Slot,
    SlotRequest,
    bucket_take,
)
from jobqueue.store.driver import dialect_insert
from jobqueue.store.tables import limit_buckets, limit_slots


def apply_ops(connection: sa.Connection, ops: Sequence[LimitOp]) -> list[Grant]:
    """Apply a batch of acquisitions, releases and renewals in order, in the caller's
    transaction; each acquisition's grant (and ``GRANTED`` for the others)."""
    now = time.time()
    grants = []
    for op in ops:
        if isinstance(op, SlotRequest):
            grants.append(acquire(connection, op, now))
        elif isinstance(op, Release):
            release(connection, op.slots)
            grants.append(GRANTED)
        else:
            renew(connection, op.slots, op.lease_s, now)
            grants.append(GRANTED)
    return grants


def acquire(connection: sa.Connection, request: SlotRequest, now: float | None = None) -> Grant:
    """Take a slot and a start under ``request.name``, both or neither."""
    now = time.time() if now is None else now
    # SQLite's write transaction already serialises every acquisition; PostgreSQL's need the
    # name's row lock (as does a rate, whose bucket is that row).
    locked = connection.dialect.name != "sqlite" or request.rate_per_s is not None
    tokens, updated_at = _locked_bucket(connection, request.name, now) if locked else (None, None)
    if request.concurrency is not None and _others_held(connection, request, now) >= (
        request.concurrency
    ):
        _forget_expired(connection, request.name, now)
        return FULL
    if request.rate_per_s is not None:
        left, wait_s = bucket_take(tokens, updated_at, now, request.rate_per_s)
        if left < 0:
            return Grant(False, "rate", wait_s)
        connection.execute(
            sa.update(limit_buckets)
            .where(limit_buckets.c.name == request.name)
            .values(tokens=left, updated_at=now)
        )
    if request.concurrency is not None:
        _hold(connection, request, now)
    return GRANTED


def _others_held(connection: sa.Connection, request: SlotRequest, now: float) -> int:
    """The live slots under the name other than the request's own."""
    slots = limit_slots.c
    count = sa.select(sa.func.count()).where(
        slots.name == request.name, slots.expires_at > now, slots.slot_id != request.slot_id
    )
    return int(connection.execute(count).scalar_one())


def _hold(connection: sa.Connection, request: SlotRequest, now: float) -> None:
    """Add the request's slot, or renew it when it is held already."""
    insert = dialect_insert(connection.dialect.name)
    statement = insert(limit_slots).values(
        name=request.name,
        slot_id=request.slot_id,
        holder=request.holder,
        expires_at=now + request.lease_s,
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[limit_slots.c.name, limit_slots.c.slot_id],
            set_={"expires_at": statement.excluded.expires_at},
        )
    )


def _forget_expired(connection: sa.Connection, name: str, now: float) -> None:
    connection.execute(
        sa.delete(limit_slots).where(limit_slots.c.name == name, limit_slots.c.expires_at <= now)
    )


def _locked_bucket(
    connection: sa.Connection, name: str, now: float
) -> tuple[float | None, float | None]:
    """The name's bucket (made full on first use: ``None, None``), locked until the end of
    the transaction."""
    insert = dialect_insert(connection.dialect.name)
    made = connection.execute(
        insert(limit_buckets)
        .values(name=name, tokens=-1.0, updated_at=now)
        .on_conflict_do_nothing(index_elements=[limit_buckets.c.name])
    )
    row = connection.execute(
        sa.select(limit_buckets.c.tokens, limit_buckets.c.updated_at)
        .where(limit_buckets.c.name == name)
        .with_for_update()
    ).one()
    if made.rowcount or row.tokens < 0:  # new: full, whatever the rate turns out to be
        return None, None
    return float(row.tokens), float(row.updated_at)


def release(connection: sa.Connection, slots: Sequence[Slot]) -> None:
    """Delete the slots' rows."""
    for name, slot_id in slots:
        connection.execute(
            sa.delete(limit_slots).where(
                limit_slots.c.name == name, limit_slots.c.slot_id == slot_id
            )
        )


def renew(
    connection: sa.Connection, slots: Sequence[Slot], lease_s: float, now: float | None = None
) -> None:
    """Push the leases of the slots still held."""
    now = time.time() if now is None else now
    for name, slot_id in slots:
        connection.execute(
            sa.update(limit_slots)
            .where(
                limit_slots.c.name == name,
                limit_slots.c.slot_id == slot_id,
                limit_slots.c.expires_at > now,
            )
            .values(expires_at=now + lease_s)
        )
