"""The commit watcher wakes a waiting consumer when another connection commits."""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from jobqueue.brokers.sqlite_store.connection import Database
from jobqueue.brokers.sqlite_store.watch import CommitWatcher

WAKE_TIMEOUT_S = 10.0


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Path]:
    database = Database(tmp_path / "broker.db")
    await database.open()
    yield database.path
    await database.close()


@pytest.fixture(params=[True, False], ids=["inotify", "polling"])
def watcher(
    request: pytest.FixtureRequest, database: Path
) -> Iterator[tuple[CommitWatcher, threading.Event]]:
    changed = threading.Event()
    watcher = CommitWatcher(database, changed.set, poll_interval_s=0.005, use_inotify=request.param)
    watcher.start()
    yield watcher, changed
    watcher.close()


def commit_elsewhere(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO broker_jobs (queue, message_id, body, visible_at)"
            " VALUES ('q', 'm', x'00', 0)"
        )
    conn.close()


def test_a_commit_by_another_connection_wakes_a_waiting_watcher(
    watcher: tuple[CommitWatcher, threading.Event], database: Path
) -> None:
    commit_watcher, changed = watcher
    commit_watcher.want(True)
    for _ in range(3):
        changed.clear()
        commit_elsewhere(database)
        assert changed.wait(WAKE_TIMEOUT_S)
    commit_watcher.want(False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")
def test_on_linux_the_watcher_sleeps_in_inotify(database: Path) -> None:
    watcher = CommitWatcher(database, lambda: None, poll_interval_s=0.005)
    watcher.start()
    try:
        assert watcher.uses_inotify
    finally:
        watcher.close()
