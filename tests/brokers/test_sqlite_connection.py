"""The SQLite broker's connection thread: group commit, savepoints, lock contention."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Unix
    fcntl = None  # type: ignore[assignment]

from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.brokers.sqlite_store.connection import Database
from jobqueue.brokers.sqlite_store.writer_lock import WriterLock, lock_path
from jobqueue.errors import BrokerUnavailable
from jobqueue.testing.broker import Inbox, sample_job


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "broker.db", busy_timeout_s=0.05, busy_budget_s=0.5)
    await database.open()
    yield database
    await database.close()


def count_jobs(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM broker_jobs").fetchone()[0])


def insert_job(conn: sqlite3.Connection, message_id: str = "m") -> None:
    conn.execute(
        "INSERT INTO broker_jobs (queue, message_id, body, visible_at) VALUES ('q', ?, x'00', 0)",
        (message_id,),
    )


@contextmanager
def write_lock_held(path: Path, for_s: float) -> Iterator[threading.Event]:
    """Another connection takes the write lock and keeps it for ``for_s`` seconds."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(for_s)
        conn.execute("COMMIT")
        conn.close()
        done.set()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    try:
        yield done
    finally:
        thread.join()


async def test_a_failing_operation_rolls_back_alone_in_a_group_commit(database: Database) -> None:
    def insert_then_fail(conn: sqlite3.Connection) -> None:
        insert_job(conn, "doomed")
        raise ValueError("nope")

    results = await asyncio.gather(
        *(database.write(insert_job) for _ in range(5)),
        database.write(insert_then_fail),
        *(database.write(insert_job) for _ in range(5)),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results].count("ValueError") == 1
    assert await database.read(count_jobs) == 10


async def test_writes_wait_for_another_connections_write_lock(database: Database) -> None:
    with write_lock_held(database.path, for_s=0.3) as released:
        await database.write(insert_job)
        assert released.is_set()
    assert await database.read(count_jobs) == 1


async def test_a_lock_held_past_the_budget_is_broker_unavailable_not_database_locked(
    database: Database,
) -> None:
    with write_lock_held(database.path, for_s=1.5), pytest.raises(BrokerUnavailable) as caught:
        await database.write(insert_job)
    assert "busy" in str(caught.value)
    assert "locked" not in str(caught.value)


async def test_broker_calls_under_heavy_write_contention_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broker.db'}"
    brokers = [SqliteBroker(url) for _ in range(3)]
    for broker in brokers:
        await broker.connect()
    stop = threading.Event()

    def hammer() -> None:  # a foreign writer holding the lock half of the time
        conn = sqlite3.connect(tmp_path / "broker.db", isolation_level=None, timeout=0)
        while not stop.is_set():
            try:
                conn.execute("BEGIN IMMEDIATE")
                time.sleep(0.002)
                conn.execute("COMMIT")
            except sqlite3.OperationalError:
                pass
            time.sleep(0.002)
        conn.close()

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        jobs = [sample_job(n) for n in range(300)]
        await asyncio.gather(*(brokers[n % 3].publish([job]) for n, job in enumerate(jobs)))
        seen: list[str] = []
        async with Inbox(brokers[1], prefetch=16) as one, Inbox(brokers[2], prefetch=16) as two:
            async with asyncio.timeout(60):
                await asyncio.gather(_ack(one, seen, len(jobs)), _ack(two, seen, len(jobs)))
            await one.expect_nothing()
            await two.expect_nothing()
        assert sorted(seen) == sorted(job.id for job in jobs)
    finally:
        stop.set()
        thread.join()
        for broker in brokers:
            await broker.close()


async def _ack(inbox: Inbox, seen: list[str], total: int) -> None:
    while len(seen) < total:
        if (delivery := await inbox.poll(0.2)) is not None:
            await inbox.broker.ack(delivery)
            seen.append(delivery.message_id)


def test_writers_take_turns_through_the_writer_lock(tmp_path: Path) -> None:
    first, second = WriterLock(tmp_path / "broker.db"), WriterLock(tmp_path / "broker.db")
    first.open()
    second.open()
    try:
        assert first.acquire(time.monotonic())
        assert not second.acquire(time.monotonic() + 0.05)
        first.release()
        assert second.acquire(time.monotonic())
        second.release()
    finally:
        first.close()
        second.close()


@pytest.mark.skipif(fcntl is None, reason="flock is Unix only")
async def test_a_writer_lock_held_elsewhere_past_the_budget_is_broker_unavailable(
    database: Database,
) -> None:
    # A file lock taken through an open file of its own, as another process would hold it.
    fd = os.open(lock_path(database.path), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(BrokerUnavailable) as caught:
            await database.write(insert_job)
        assert "busy" in str(caught.value)
        fcntl.flock(fd, fcntl.LOCK_UN)
        await database.write(insert_job)  # its turn comes once the other writer is done
    finally:
        os.close(fd)
    assert await database.read(count_jobs) == 1
