"""Priorities on the embedded broker: strict order among due jobs, FIFO within one, delays
respected, the claim an index seek per priority, and files of schema version 3 migrated."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.brokers.sqlite_store import jobs as rows
from jobqueue.brokers.sqlite_store.schema import MIGRATIONS, SCHEMA_VERSION
from jobqueue.job import Job
from jobqueue.testing.broker import Inbox, sample_job

WAITING = 20_000
T = TypeVar("T")


@pytest.fixture
async def broker(sqlite_url: str) -> AsyncIterator[SqliteBroker]:
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    yield broker
    await broker.close()


def db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


async def _taken_in_turn(broker: SqliteBroker, count: int) -> list[str]:
    taken: list[str] = []
    async with Inbox(broker, prefetch=1) as inbox:
        for _ in range(count):
            delivery = await inbox.get()
            taken.append(delivery.message_id)
            await broker.ack(delivery)
        await inbox.expect_nothing()
    return taken


async def test_a_delayed_high_priority_job_waits_for_its_time_then_goes_first(
    broker: SqliteBroker,
) -> None:
    old_low, later_low = sample_job(0, priority=1), sample_job(1, priority=1)
    urgent, delayed_urgent = sample_job(2, priority=8), sample_job(3, priority=9)
    await broker.publish([old_low, delayed_urgent])
    async with Inbox(broker, prefetch=1) as inbox:
        first = await inbox.get()
        assert first.message_id == delayed_urgent.id
        # Back in 0.5 s: until then the lower priorities are due and it is not.
        await broker.retry(first, Job.decode(first.body).next_attempt(), 0.5)
        second = await inbox.get()
        assert second.message_id == old_low.id
        await broker.publish([later_low, urgent])
        await broker.ack(second)
        third = await inbox.get()
        assert third.message_id == urgent.id
        due_at = time.monotonic() + 0.6
        while time.monotonic() < due_at:  # let the delayed retry come due behind the lease
            await inbox.expect_nothing(0.1)
        await broker.ack(third)
        fourth = await inbox.get()
        assert fourth.message_id == delayed_urgent.id  # due now, so ahead of the older low one
        await broker.ack(fourth)
        fifth = await inbox.get()
        assert fifth.message_id == later_low.id
        await broker.ack(fifth)
        await inbox.expect_nothing()


async def test_jobs_of_one_priority_published_apart_keep_their_order(
    broker: SqliteBroker,
) -> None:
    published = [sample_job(n, priority=n % 3) for n in range(9)]
    for job in published:
        await broker.publish([job])
    expected = [job.id for job in sorted(published, key=lambda job: -job.priority)]
    assert await _taken_in_turn(broker, len(published)) == expected


def _plan(conn: sqlite3.Connection, sql: str) -> str:
    return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))


def _traced(conn: sqlite3.Connection, work: Callable[[], T]) -> tuple[T, list[str], int]:
    """What ``work`` returns, the statements it ran (values filled in), and about how many
    SQLite VM instructions they took."""
    statements: list[str] = []
    steps: list[int] = []
    conn.set_trace_callback(statements.append)
    conn.set_progress_handler(lambda: steps.append(1) and 0, 100)
    try:
        result = work()
    finally:
        conn.set_trace_callback(None)
        conn.set_progress_handler(None, 0)
    return result, statements, 100 * len(steps)


def _fill(conn: sqlite3.Connection, now: float) -> None:
    """Many waiting rows of every priority, half of them delayed into the future."""
    conn.executemany(
        "INSERT INTO broker_jobs (queue, message_id, body, priority, visible_at)"
        " VALUES ('jobs', ?, x'7b7d', ?, ?)",
        ((f"m{n}", n % 10, now + (3600 if n % 2 else -1)) for n in range(WAITING)),
    )


async def test_the_claim_seeks_the_index_per_priority_and_sorts_nothing(
    broker: SqliteBroker, sqlite_url: str
) -> None:
    now = time.time()
    with contextlib.closing(sqlite3.connect(db_file(sqlite_url))) as conn, conn:
        _fill(conn, now)
    with contextlib.closing(sqlite3.connect(db_file(sqlite_url))) as conn:
        claimed, statements, steps = _traced(
            conn,
            lambda: rows.claim(
                conn, "jobs", "owner", now=now, lease_s=30.0, limit=5, max_redeliveries=5
            ),
        )
        conn.rollback()
        due_at, next_statements, _ = _traced(conn, lambda: rows.next_visible_at(conn, "jobs"))
        [select] = [sql for sql in statements if sql.startswith("SELECT")]
        plan, next_plan = _plan(conn, select), _plan(conn, next_statements[-1])
    seek = "USING INDEX broker_jobs_ready (queue=? AND priority=? AND visible_at<?)"
    assert plan == f"SEARCH broker_jobs {seek}"  # a seek per priority, and no TEMP B-TREE
    assert (
        next_plan
        == "SEARCH broker_jobs USING COVERING INDEX broker_jobs_ready (queue=? AND priority=?)"
    )
    assert [json.loads(row.body) for row in claimed] == [{}] * 5
    assert due_at is not None
    assert due_at < now
    assert steps < WAITING  # a scan of the waiting rows would take several steps per row


async def test_a_version_3_file_is_migrated_and_its_waiting_jobs_keep_their_order(
    sqlite_url: str,
) -> None:
    path = db_file(sqlite_url)
    old = [Job("resize", {"n": n}) for n in range(3)]
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for step in MIGRATIONS[:3]:
            for statement in step.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("CREATE TABLE broker_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO broker_schema VALUES (3)")
        conn.executemany(
            "INSERT INTO broker_jobs (queue, message_id, body, job_type, visible_at)"
            " VALUES ('jobs', ?, ?, 'resize', 0)",
            [(job.id, job.encode()) for job in old],
        )
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    try:
        urgent = sample_job(9, priority=5)
        await broker.publish([urgent])
        taken = await _taken_in_turn(broker, 4)
    finally:
        await broker.close()
    assert taken == [urgent.id, *(job.id for job in old)]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version FROM broker_schema").fetchall() == [(SCHEMA_VERSION,)]
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(broker_jobs)")}
    assert "broker_jobs_ready" in indexes
    assert "broker_jobs_due" not in indexes
