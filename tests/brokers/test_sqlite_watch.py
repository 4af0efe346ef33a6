"""The commit watcher wakes a waiting consumer when another connection makes a row due sooner."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sqlite3
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from jobqueue.brokers.sqlite import SqliteBroker
from jobqueue.brokers.sqlite_store import watch
from jobqueue.brokers.sqlite_store.connection import Database
from jobqueue.brokers.sqlite_store.doorbell import Doorbell
from jobqueue.brokers.sqlite_store.watch import CommitWatcher
from jobqueue.job import Job
from jobqueue.testing.broker import sample_job

WAKE_TIMEOUT_S = 10.0
QUIET_S = 0.3


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Path]:
    database = Database(tmp_path / "broker.db")
    await database.open()
    doorbell = Doorbell(database.path)
    doorbell.open()  # creates the file, as a broker's connect does before its watcher starts
    doorbell.close()
    yield database.path
    await database.close()


@pytest.fixture(params=[True, False], ids=["inotify", "polling"])
def watcher(
    request: pytest.FixtureRequest, database: Path
) -> Iterator[tuple[CommitWatcher, threading.Event]]:
    due = threading.Event()
    watcher = CommitWatcher(
        database, "q", due.set, poll_interval_s=0.005, use_inotify=request.param
    )
    watcher.start()
    yield watcher, due
    watcher.close()


def commit_elsewhere(
    path: Path,
    queue: str = "q",
    visible_at: float = 0.0,
    job: Job | None = None,
    *,
    ring: bool = True,
) -> None:
    """Insert a row through a connection of its own, as another process would, and ring."""
    job = job or sample_job()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO broker_jobs (queue, message_id, body, visible_at) VALUES (?, ?, ?, ?)",
            (queue, job.id, job.encode(), visible_at),
        )
    conn.close()
    if ring:
        doorbell = Doorbell(path)
        doorbell.open()
        doorbell.ring()
        doorbell.close()


@contextlib.contextmanager
def waiting(watcher: CommitWatcher, due_before: float = math.inf) -> Iterator[None]:
    """A consumer's wait, from a fresh mark, for a row due before ``due_before``."""
    ticket = watcher.wait_for(due_before, since=watcher.mark())
    assert ticket is not None
    try:
        yield
    finally:
        watcher.stop_waiting(ticket)


def wait_for_mark_to_pass(watcher: CommitWatcher, mark: int) -> None:
    deadline = time.monotonic() + WAKE_TIMEOUT_S
    while watcher.mark() == mark:
        assert time.monotonic() < deadline, "the watcher never saw the commit"
        time.sleep(0.001)


def test_a_due_row_committed_elsewhere_wakes_a_waiting_consumer(
    watcher: tuple[CommitWatcher, threading.Event], database: Path
) -> None:
    commit_watcher, due = watcher
    for _ in range(3):
        due.clear()
        with waiting(commit_watcher):
            commit_elsewhere(database)
            assert due.wait(WAKE_TIMEOUT_S)


def test_a_commit_nobody_rang_for_is_still_noticed(
    watcher: tuple[CommitWatcher, threading.Event], database: Path
) -> None:
    commit_watcher, due = watcher
    with waiting(commit_watcher):
        commit_elsewhere(database, ring=False)
        assert due.wait(WAKE_TIMEOUT_S)


def test_commits_that_make_nothing_due_sooner_wake_no_one(
    watcher: tuple[CommitWatcher, threading.Event], database: Path
) -> None:
    commit_watcher, due = watcher
    in_an_hour = time.time() + 3600
    with waiting(commit_watcher, in_an_hour):
        for queue, visible_at in [("other", 0.0), ("q", in_an_hour + 60)]:
            mark = commit_watcher.mark()
            commit_elsewhere(database, queue, visible_at)
            wait_for_mark_to_pass(commit_watcher, mark)
        assert not due.wait(QUIET_S)
        commit_elsewhere(database, "q", in_an_hour - 60)
        assert due.wait(WAKE_TIMEOUT_S)


def test_a_wait_is_refused_when_a_commit_was_seen_since_the_mark(
    watcher: tuple[CommitWatcher, threading.Event], database: Path
) -> None:
    commit_watcher, _ = watcher
    with waiting(commit_watcher):
        stale = commit_watcher.mark()
        commit_elsewhere(database, "other")
        wait_for_mark_to_pass(commit_watcher, stale)
        assert commit_watcher.wait_for(math.inf, since=stale) is None


def test_with_no_consumer_waiting_the_watcher_reads_nothing(
    watcher: tuple[CommitWatcher, threading.Event], database: Path
) -> None:
    commit_watcher, due = watcher
    mark = commit_watcher.mark()
    commit_elsewhere(database)
    time.sleep(QUIET_S)
    assert commit_watcher.mark() == mark
    assert not due.is_set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
def test_the_doorbell_wakes_a_watcher_that_would_not_poll_for_an_hour(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "INOTIFY_MAX_INTERVAL_S", 3600.0)
    due = threading.Event()
    commit_watcher = CommitWatcher(database, "q", due.set, poll_interval_s=0.005)
    commit_watcher.start()
    try:
        assert commit_watcher.uses_inotify
        with waiting(commit_watcher):
            time.sleep(QUIET_S)  # the thread is asleep in inotify by now
            commit_elsewhere(database)
            assert due.wait(WAKE_TIMEOUT_S)
    finally:
        commit_watcher.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
def test_on_linux_the_watcher_sleeps_in_inotify(database: Path) -> None:
    watcher = CommitWatcher(database, "q", lambda: None, poll_interval_s=0.005)
    watcher.start()
    try:
        assert watcher.uses_inotify
    finally:
        watcher.close()


async def test_a_delayed_row_written_elsewhere_during_an_idle_wait_is_delivered_on_time(
    sqlite_url: str,
) -> None:
    broker = SqliteBroker(sqlite_url)
    await broker.connect()
    try:
        deliveries = broker.deliveries(prefetch=1)
        first = asyncio.ensure_future(anext(deliveries))
        await asyncio.sleep(QUIET_S)  # the consumer found nothing and waits with no deadline
        job = sample_job()
        due_at = time.time() + 0.5
        commit_elsewhere(Path(sqlite_url.removeprefix("sqlite:///")), broker.queue, due_at, job)
        delivery = await asyncio.wait_for(first, WAKE_TIMEOUT_S)
        assert delivery.message_id == job.id
        assert time.time() >= due_at
        await broker.ack(delivery)
    finally:
        await broker.close()
