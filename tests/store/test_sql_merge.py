"""The SQL upsert merges events exactly as the reference rules do, in any order and batching."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobqueue.store import Store
from jobqueue.store.events import JobEvent
from jobqueue.testing.store import assert_matches_fold
from tests.store.conftest import open_store, postgres_store
from tests.store.strategies import deliveries

Case = tuple[list[JobEvent], list[JobEvent]]


def renamed(case: Case) -> Case:
    """The same case for a fresh job id and fresh event ids (duplicates stay duplicates)."""
    job_id = uuid.uuid4().hex
    ids: dict[str, str] = {}

    def fresh(item: JobEvent) -> JobEvent:
        new_id = ids.setdefault(item.event_id, uuid.uuid4().hex)
        return dataclasses.replace(item, job_id=job_id, event_id=new_id)

    history, delivered = case
    return [fresh(item) for item in history], [fresh(item) for item in delivered]


async def deliver(store: Store, case: Case, sizes: list[int]) -> None:
    """Apply the shuffled events in batches of the given sizes and compare with the fold."""
    history, delivered = renamed(case)
    position = 0
    while position < len(delivered):
        size = sizes[position % len(sizes)]
        await store.apply_events(delivered[position : position + size])
        position += size
    assert_matches_fold(await store.get(history[0].job_id), history)


def check_against_fold(opened: AbstractAsyncContextManager[Store], max_examples: int) -> None:
    """Run the property on one store, opened once for every example."""
    with asyncio.Runner() as runner:
        store = runner.run(opened.__aenter__())
        try:

            @settings(max_examples=max_examples, deadline=None, database=None)
            @given(deliveries(), st.lists(st.integers(min_value=1, max_value=6), min_size=1))
            def merge_matches(case: Case, sizes: list[int]) -> None:
                runner.run(deliver(store, case, sizes))

            merge_matches()
        finally:
            runner.run(opened.__aexit__(None, None, None))


def test_sqlite_merges_like_the_reference_rules(tmp_path: Path) -> None:
    check_against_fold(open_store(f"sqlite:///{tmp_path / 'store.db'}"), max_examples=150)


@pytest.mark.postgres
def test_postgres_merges_like_the_reference_rules() -> None:
    check_against_fold(postgres_store(), max_examples=100)
