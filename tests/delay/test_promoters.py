"""Several promoters on one PostgreSQL schema (as API replicas run them) publish each due job
exactly once: the messages in the broker are counted."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from jobqueue.brokers import from_url
from jobqueue.delay.promoter import promoting
from jobqueue.job import Job
from jobqueue.store import events as ev
from tests.api.conftest import take_deliveries
from tests.control.polling import eventually
from tests.services import POSTGRES_URL
from tests.store.conftest import drop_schema, open_store

JOBS = 300
SETTLE_S = 20.0


@pytest.mark.postgres
async def test_three_promoters_publish_each_due_job_once(tmp_path: Path) -> None:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    store_url = f"{POSTGRES_URL}?schema={schema}"
    broker = from_url(f"sqlite:///{tmp_path / 'jobs.db'}", "jobs")
    await broker.connect()
    try:
        async with contextlib.AsyncExitStack() as stack:
            stores = [await stack.enter_async_context(open_store(store_url)) for _ in range(3)]
            soon = ev.utc_now() + timedelta(milliseconds=300)
            jobs = [Job("report", {"n": n}, run_at=ev.to_iso(soon)) for n in range(JOBS)]
            await stores[0].record_scheduled(jobs)
            for store in stores:  # each its own pool: three replicas racing for the same rows
                await stack.enter_async_context(promoting(store, broker.publish, poll_s=0.05))

            async def all_handed_over() -> bool:
                return await stores[0].scheduled_count() == 0

            await eventually(all_handed_over, SETTLE_S, "every due job handed over")
            deliveries = await take_deliveries(broker, JOBS)
            assert sorted(d.message_id for d in deliveries) == sorted(job.id for job in jobs)
            for delivery in deliveries:
                await broker.ack(delivery)
            assert (await broker.depth()).ready == 0  # none published twice
    finally:
        await broker.close()
        await drop_schema(schema)
