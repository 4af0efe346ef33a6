"""The oldest ready job read from the job store, on SQLite and PostgreSQL: the job queued
longest, a delayed job counted from its due time, running jobs left out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobqueue.job import Job, iso_utc
from jobqueue.scaling.inputs import oldest_queued_at
from jobqueue.store import Store
from jobqueue.store.events import running
from jobqueue.store.sql import SqlStore
from tests.store.conftest import open_store, postgres_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh job store of each kind."""
    if request.param == "sqlite":
        async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
            yield opened
    else:
        async with postgres_store() as opened:
            yield opened


def ago(seconds: float) -> datetime:
    """The moment ``seconds`` before now."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def oldest(store: Store) -> datetime | None:
    """What the reader takes for the moment the oldest ready job became ready."""
    assert isinstance(store, SqlStore)
    return await store.transaction(oldest_queued_at, write=False)


async def test_no_queued_job_has_no_oldest(store: Store) -> None:
    assert await oldest(store) is None


async def test_the_job_queued_longest_is_the_oldest_and_a_started_one_is_not(
    store: Store,
) -> None:
    started = Job("slow", {}, created_at=iso_utc(ago(500)))
    waiting = Job("slow", {}, created_at=iso_utc(ago(100)))
    newer = Job("slow", {}, created_at=iso_utc(ago(5)))
    await store.record_submitted([started, waiting, newer])
    await store.apply_events([running(started, "w-1")])

    found = await oldest(store)

    assert found is not None
    assert abs((found - ago(100)).total_seconds()) < 5


async def test_a_delayed_job_waits_from_its_due_time_not_its_submission(store: Store) -> None:
    delayed = Job("slow", {}, created_at=iso_utc(ago(1000)), run_at=iso_utc(ago(10)))
    plain = Job("slow", {}, created_at=iso_utc(ago(60)))
    await store.record_scheduled([delayed])

    async def publish(jobs: list[Job]) -> None:
        assert [job.id for job in jobs] == [delayed.id]

    assert [due.job.id for due in await store.promote_due(publish)] == [delayed.id]
    await store.record_submitted([plain])

    found = await oldest(store)

    assert found is not None
    assert abs((found - ago(60)).total_seconds()) < 5  # the delayed job is ready only 10 s
