"""Schedule fixtures: a clock the test steps, and a schedule book on a fresh SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobqueue.brokers import Broker, from_url
from jobqueue.schedule.book import ScheduleBook
from jobqueue.store.sql import SqlStore
from tests.store.conftest import open_store

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


class SteppedClock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def step(self, seconds: float) -> datetime:
        """Move on ``seconds``; returns the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
async def book(tmp_path: Path, clock: SteppedClock) -> AsyncIterator[ScheduleBook]:
    async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        assert isinstance(store, SqlStore)
        yield ScheduleBook(store, clock=clock)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """A connected SQLite broker in a fresh file."""
    broker = from_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")
    await broker.connect()
    yield broker
    await broker.close()
