"""Three firing loops, each with its own store connections, on one PostgreSQL schema: every
tick of 100 (a stepped clock) makes exactly one job, whichever replica wins it; and three
loops running on the real clock for a few seconds fire each second once, none left out."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.firing import FiringLoop, firing
from jobqueue.schedule.values import ScheduleSpec
from jobqueue.store.sql import SqlStore
from jobqueue.store.tables import jobs, schedule_ticks
from tests.schedule.conftest import START, SteppedClock
from tests.services import POSTGRES_URL
from tests.store.conftest import drop_schema, open_store

TICKS = 100
REPLICAS = 3


async def job_rows(store: SqlStore) -> list[tuple[str, str]]:
    """Every job's (type, run_at) and every tick's job, read back directly."""

    def read(connection: sa.Connection) -> list[tuple[str, str]]:
        rows = connection.execute(sa.select(jobs.c.type, jobs.c.run_at))
        return [(row.type, row.run_at.isoformat()) for row in rows]

    return await store.transaction(read, write=False)


async def tick_count(store: SqlStore) -> int:
    query = sa.select(sa.func.count()).select_from(schedule_ticks)
    return int(await store.transaction(lambda c: c.execute(query).scalar() or 0, write=False))


@pytest.mark.postgres
async def test_three_replicas_fire_each_of_100_ticks_exactly_once() -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    clock = SteppedClock(START)
    try:
        async with AsyncExitStack() as stack:
            stores = [
                await stack.enter_async_context(open_store(f"{POSTGRES_URL}?schema={schema}"))
                for _ in range(REPLICAS)
            ]
            books = [
                ScheduleBook(store, clock=clock) for store in stores if isinstance(store, SqlStore)
            ]
            assert len(books) == REPLICAS
            for name in ("every-second", "also-every-second"):
                await books[0].create(ScheduleSpec(name=name, cron="* * * * * *", job_type=name))
            loops = [FiringLoop(book) for book in books]
            won: Counter[int] = Counter()
            for _ in range(TICKS):
                clock.step(1)
                rounds = await asyncio.gather(*(loop.fire_due() for loop in loops))
                for replica, fired in enumerate(rounds):
                    won[replica] += len(fired)
            made = await job_rows(books[0].store)
            assert await tick_count(books[0].store) == 2 * TICKS
    finally:
        await drop_schema(schema)
    per_tick = Counter(made)
    assert len(per_tick) == 2 * TICKS  # every tick of both schedules has a job
    assert set(per_tick.values()) == {1}  # and only one
    assert sum(won.values()) == 2 * TICKS


@pytest.mark.postgres
async def test_three_running_loops_on_the_real_clock_fire_each_second_once() -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        async with AsyncExitStack() as stack:
            stores = [
                await stack.enter_async_context(open_store(f"{POSTGRES_URL}?schema={schema}"))
                for _ in range(REPLICAS)
            ]
            books = [ScheduleBook(s) for s in stores if isinstance(s, SqlStore)]
            await books[0].create(ScheduleSpec(name="live", cron="* * * * * *", job_type="live"))
            for book in books:
                await stack.enter_async_context(firing(FiringLoop(book)))
            await asyncio.sleep(4.5)
        async with open_store(f"{POSTGRES_URL}?schema={schema}") as store:
            assert isinstance(store, SqlStore)
            made = sorted(run_at for _, run_at in await job_rows(store))
    finally:
        await drop_schema(schema)
    ticks = [datetime.fromisoformat(run_at) for run_at in made]
    assert len(ticks) >= 3
    assert len(set(ticks)) == len(ticks)  # no tick twice
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(ticks))  # none left out
