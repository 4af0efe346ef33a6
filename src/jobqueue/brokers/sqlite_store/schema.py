"""The broker's tables, versioned with ``PRAGMA user_version`` so later releases can migrate."""

from __future__ import annotations

import sqlite3

from jobqueue.errors import BrokerError

# ``visible_at`` is the one clock a row lives by: when it may next be claimed. For a new job it
# is now, for a retry now + delay, for a claimed row the lease expiry. A row is claimable when
# ``visible_at <= now``, so an expired lease needs no sweeper. ``claims - releases`` counts the
# deliveries that were never settled nor handed back: the consumer died holding them.
# ``jobs_due`` orders equal times by rowid, so a claim walks it in order and stops at its LIMIT
# (adding lease_owner to it would break that). AUTOINCREMENT never reuses a sequence number,
# so a stale lease token cannot match a newer row, and dead rows list in insertion order.
_VERSION_1 = """
CREATE TABLE jobs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    visible_at  REAL    NOT NULL,
    lease_owner TEXT,
    claims      INTEGER NOT NULL DEFAULT 0,
    releases    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs (queue, visible_at);
CREATE TABLE dead (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    queue           TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    reason          TEXT    NOT NULL,
    error           TEXT,
    traceback       TEXT,
    attempts        INTEGER NOT NULL,
    worker_id       TEXT,
    failed_at       TEXT    NOT NULL,
    first_failed_at TEXT
);
CREATE INDEX dead_by_id ON dead (queue, message_id);
"""

# MIGRATIONS[n] takes a database at version n to version n + 1.
MIGRATIONS: tuple[str, ...] = (_VERSION_1,)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`; call inside a write transaction."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise BrokerError(
            f"the broker database has schema version {version}, newer than this jobqueue "
            f"understands ({SCHEMA_VERSION}); upgrade jobqueue"
        )
    for step in MIGRATIONS[version:]:
        for statement in step.split(";"):
            if statement.strip():
                conn.execute(statement)
    if version < SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
