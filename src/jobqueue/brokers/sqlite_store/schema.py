"""The broker's tables, with a schema version so that later releases can migrate them.

The file may be shared with the job store (``jobqueue.store``), so every name starts with
``broker_`` and the version lives in a table of its own rather than in ``PRAGMA user_version``.
"""

from __future__ import annotations

import sqlite3

from jobqueue.errors import BrokerError

# ``visible_at`` is the one clock a row lives by: when it may next be claimed. For a new job it
# is now, for a retry now + delay, for a claimed row the lease expiry. A row is claimable when
# ``visible_at <= now``, so an expired lease needs no sweeper. ``claims - releases`` counts the
# deliveries that were never settled nor handed back: the consumer died holding them.
# ``broker_jobs_due`` orders equal times by rowid, so a claim walks it in order and stops at
# its LIMIT (adding lease_owner to it would break that); version 4 replaces it by
# ``broker_jobs_ready``, priority first. AUTOINCREMENT never reuses a sequence number, so a stale
# lease token cannot match a newer row, and dead rows keep insertion order.
_VERSION_1 = """
CREATE TABLE broker_jobs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    visible_at  REAL    NOT NULL,
    lease_owner TEXT,
    claims      INTEGER NOT NULL DEFAULT 0,
    releases    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX broker_jobs_due ON broker_jobs (queue, visible_at);
CREATE TABLE broker_dead (
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
CREATE INDEX broker_dead_by_id ON broker_dead (queue, message_id);
"""

# Each row's job type, so a consumer can leave the rows of types it does not serve to the
# consumers that do (NULL: a body that is not a job, which any consumer takes).
_VERSION_2 = """
ALTER TABLE broker_jobs ADD COLUMN job_type TEXT;
UPDATE broker_jobs SET job_type = CASE WHEN json_valid(CAST(body AS TEXT))
    THEN json_extract(CAST(body AS TEXT), '$.type') END
"""

# Each row's message headers (the trace context), as a JSON object; NULL for none.
_VERSION_3 = """
ALTER TABLE broker_jobs ADD COLUMN headers TEXT
"""

# Each row's priority (0 to 9, higher first; rows from before it were all published at 0), and
# the claim's index in its order: by queue, priority from the highest, then due time (and rowid).
# A claim reads it with ``priority IN (9, ..., 0)``: one seek per priority into the rows due by
# now, each yielding in order, so SQLite walks no row that is not due and sorts nothing; with the
# priority ascending in the index it would sort every due row. It replaces ``broker_jobs_due``,
# which no query could use any more without a scan of the queue.
_VERSION_4 = """
ALTER TABLE broker_jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
    CHECK (priority BETWEEN 0 AND 9);
DROP INDEX broker_jobs_due;
CREATE INDEX broker_jobs_ready ON broker_jobs (queue, priority DESC, visible_at)
"""

# MIGRATIONS[n] takes a database at version n to version n + 1.
MIGRATIONS: tuple[str, ...] = (_VERSION_1, _VERSION_2, _VERSION_3, _VERSION_4)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`; call inside a write transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS broker_schema (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM broker_schema").fetchone()
    version: int = 0 if row is None else row[0]
    if version > SCHEMA_VERSION:
        raise BrokerError(
            f"the broker tables have schema version {version}, newer than this jobqueue "
            f"understands ({SCHEMA_VERSION}); upgrade jobqueue"
        )
    for step in MIGRATIONS[version:]:
        for statement in step.split(";"):
            if statement.strip():
                conn.execute(statement)
    if row is None:
        conn.execute("INSERT INTO broker_schema (version) VALUES (?)", (SCHEMA_VERSION,))
    elif version < SCHEMA_VERSION:
        conn.execute("UPDATE broker_schema SET version = ?", (SCHEMA_VERSION,))
