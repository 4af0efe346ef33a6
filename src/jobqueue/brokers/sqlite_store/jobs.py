"""Operations on the ``broker_jobs`` table: insert, claim under a lease, extend, settle, count.

Each function runs inside a transaction the caller opened (see ``connection.Database``). A
settlement names its row by :class:`Lease` and only acts while the caller still holds that
lease: a consumer whose lease expired and whose job was claimed by another must not delete or
copy the other consumer's delivery.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from jobqueue.brokers import Death, DeathReason
from jobqueue.brokers.sqlite_store import dead
from jobqueue.job import MAX_PRIORITY, Job


@dataclass(frozen=True, slots=True)
class Lease:
    """The token of a SQLite delivery: which row, and which claim of it."""

    seq: int
    claim: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row just claimed: the delivery to hand out (with a death if it must not run)."""

    lease: Lease
    message_id: str
    body: bytes
    death: Death | None = None
    headers: dict[str, str] | None = None

    @property
    def redelivered(self) -> bool:
        """Whether the row was claimed before (by a consumer that died, closed or released)."""
        return self.lease.claim > 1


_OWNED = "seq = ? AND lease_owner = ? AND claims = ?"
# Every priority, highest first: ``priority IN (...)`` makes one seek of the ``broker_jobs_ready``
# index per priority, in this order (see ``schema``), instead of a walk over the whole queue.
_EVERY_PRIORITY = f"priority IN ({', '.join(map(str, range(MAX_PRIORITY, -1, -1)))})"

Message = tuple[str, bytes, str | None, str | None, int]
"""A row to insert: message id, body, job type, headers (as :func:`headers_text` writes them),
priority."""


def message(job: Job) -> Message:
    """The row of ``job``."""
    headers = None if job.headers is None else headers_text(job.headers)
    return (job.id, job.encode(), job.type, headers, job.priority)


def headers_text(headers: Mapping[str, str]) -> str | None:
    """Message headers as the ``headers`` column keeps them: a JSON object, None for none."""
    return json.dumps(dict(headers), separators=(",", ":")) if headers else None


def headers_of(text: str | None) -> dict[str, str] | None:
    """The ``headers`` column read back; its entries that are not strings are left out."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {key: value for key, value in data.items() if isinstance(value, str)} or None


def insert(
    conn: sqlite3.Connection, queue: str, messages: Iterable[Message], visible_at: float
) -> None:
    """Store messages (id, body, job type, headers, priority), claimable from ``visible_at``
    (unix seconds)."""
    conn.executemany(
        "INSERT INTO broker_jobs"
        " (queue, message_id, body, job_type, headers, priority, visible_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (queue, message_id, body, job_type, headers, priority, visible_at)
            for message_id, body, job_type, headers, priority in messages
        ),
    )


def _skipping(skip_types: Collection[str]) -> str:
    """The condition that leaves out rows of ``skip_types`` ("" when there are none)."""
    if not skip_types:
        return ""
    return f" AND (job_type IS NULL OR job_type NOT IN ({','.join('?' * len(skip_types))}))"


def next_visible_at(
    conn: sqlite3.Connection, queue: str, skip_types: Collection[str] = ()
) -> float | None:
    """When the earliest row of the queue (not of ``skip_types``) becomes claimable (maybe
    already), or None if there is none."""
    row = conn.execute(
        f"SELECT MIN(visible_at) FROM broker_jobs WHERE queue = ? AND {_EVERY_PRIORITY}"
        f"{_skipping(skip_types)}",
        (queue, *skip_types),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def claim(
    conn: sqlite3.Connection,
    queue: str,
    owner: str,
    *,
    now: float,
    lease_s: float,
    limit: int,
    max_redeliveries: int,
    skip_types: Collection[str] = (),
) -> list[Claimed]:
    """Lease up to ``limit`` claimable rows to ``owner``, the highest priority first and the
    oldest due first within one (then the first inserted), leaving those of ``skip_types`` to
    other consumers.

    A row already delivered more than ``max_redeliveries`` times without being settled or
    released (its consumers keep dying) is claimed with a :class:`Death`: its consumer must
    dead-letter it rather than run it (and can first record why, as the worker does).
    """
    candidates = conn.execute(
        f"SELECT seq, claims - releases FROM broker_jobs WHERE queue = ? AND {_EVERY_PRIORITY}"
        f" AND visible_at <= ?{_skipping(skip_types)}"
        " ORDER BY priority DESC, visible_at, seq LIMIT ?",
        (queue, now, *skip_types, limit),
    ).fetchall()
    if not candidates:
        return []
    lost = dict(candidates)
    marks = ",".join("?" * len(candidates))
    rows = conn.execute(
        "UPDATE broker_jobs SET lease_owner = ?, visible_at = ?, claims = claims + 1"
        f" WHERE seq IN ({marks}) RETURNING seq, claims, message_id, body, headers",
        (owner, now + lease_s, *lost),
    ).fetchall()
    order = {seq: position for position, (seq, _) in enumerate(candidates)}
    rows.sort(key=lambda row: order[row[0]])
    return [
        Claimed(
            Lease(seq, claims),
            message_id,
            body,
            _death(body, lost[seq], max_redeliveries),
            None if headers is None else headers_of(headers),
        )
        for seq, claims, message_id, body, headers in rows
    ]


def _death(body: bytes, lost: int, max_redeliveries: int) -> Death | None:
    if lost <= max_redeliveries:
        return None
    return Death(
        reason=DeathReason.REDELIVERY_LIMIT,
        error=(
            f"delivered {lost} times without being settled (at most {max_redeliveries} "
            "redeliveries): the job may be killing its workers"
        ),
        attempts=_attempts(body),
    )


def _attempts(body: bytes) -> int:
    try:
        return Job.decode(body).attempts
    except Exception:
        return 0


def extend(
    conn: sqlite3.Connection, owner: str, leases: Sequence[Lease], visible_at: float
) -> None:
    """Push the expiry of leases ``owner`` still holds to ``visible_at``."""
    conn.executemany(
        f"UPDATE broker_jobs SET visible_at = ? WHERE {_OWNED}",
        ((visible_at, lease.seq, owner, lease.claim) for lease in leases),
    )


def ack(conn: sqlite3.Connection, owner: str, lease: Lease) -> bool:
    """Delete the row; False when the lease was lost (another consumer has the job)."""
    cursor = conn.execute(
        f"DELETE FROM broker_jobs WHERE {_OWNED}", (lease.seq, owner, lease.claim)
    )
    return cursor.rowcount == 1


def retry(conn: sqlite3.Connection, owner: str, lease: Lease, job: Job, visible_at: float) -> bool:
    """Replace the row by ``job`` (with its headers) claimable at ``visible_at``, atomically;
    False if lost."""
    row = conn.execute(
        f"DELETE FROM broker_jobs WHERE {_OWNED} RETURNING queue", (lease.seq, owner, lease.claim)
    ).fetchone()
    if row is None:
        return False
    insert(conn, row[0], [message(job)], visible_at)
    return True


def dead_letter(
    conn: sqlite3.Connection, owner: str, lease: Lease, death: Death, body: bytes | None = None
) -> bool:
    """Move the row (with ``body`` instead of its own, if given) to the dead table with
    ``death``, atomically; False if lost."""
    row = conn.execute(
        f"DELETE FROM broker_jobs WHERE {_OWNED} RETURNING queue, message_id, body",
        (lease.seq, owner, lease.claim),
    ).fetchone()
    if row is None:
        return False
    dead.insert(conn, row[0], row[1], row[2] if body is None else body, death)
    return True


def release(conn: sqlite3.Connection, owner: str, leases: Sequence[Lease], now: float) -> int:
    """Make leased rows claimable now; a release does not count toward the redelivery limit."""
    cursor = conn.executemany(
        "UPDATE broker_jobs SET lease_owner = NULL, visible_at = ?, releases = releases + 1"
        f" WHERE {_OWNED}",
        ((now, lease.seq, owner, lease.claim) for lease in leases),
    )
    return cursor.rowcount


def counts(conn: sqlite3.Connection, queue: str, now: float) -> tuple[int, int]:
    """(ready, delayed): claimable now (expired leases included), and waiting for their time."""
    # Two range counts on the index (a seek per priority): the ready range needs no table
    # lookups, and the future range (delayed and leased rows) is usually small.
    ready = conn.execute(
        f"SELECT COUNT(*) FROM broker_jobs WHERE queue = ? AND {_EVERY_PRIORITY}"
        " AND visible_at <= ?",
        (queue, now),
    ).fetchone()[0]
    delayed = conn.execute(
        f"SELECT COUNT(*) FROM broker_jobs WHERE queue = ? AND {_EVERY_PRIORITY}"
        " AND visible_at > ? AND lease_owner IS NULL",
        (queue, now),
    ).fetchone()[0]
    return int(ready), int(delayed)
