"""The metrics of delayed jobs: the store's scheduled count and the promoter's lateness."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jobqueue.api.app import create_app
from jobqueue.brokers import from_url
from jobqueue.delay.promoter import Promoter
from jobqueue.job import Job
from jobqueue.metrics import Metrics
from jobqueue.store import events as ev
from tests.api.conftest import asgi_client
from tests.metrics.conftest import samples, values
from tests.store.conftest import open_store


async def test_metrics_show_waiting_jobs_and_how_late_due_ones_were(tmp_path: Path) -> None:
    broker = from_url(f"sqlite:///{tmp_path / 'jobs.db'}", "jobs")
    await broker.connect()
    try:
        async with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
            metrics = Metrics("jobs", broker, store)
            now = ev.utc_now()
            due = Job("report", {}, run_at=ev.to_iso(now - timedelta(seconds=3)))
            waiting = Job("report", {}, run_at=ev.to_iso(now + timedelta(hours=1)))
            await store.record_scheduled([due, waiting])
            promoter = Promoter(store, broker.publish, metrics.schedule.promoted)
            assert await promoter.promote_due() == 1
            async with asgi_client(create_app(broker, metrics=metrics)) as client:
                found = samples((await client.get("/metrics")).text)
    finally:
        await broker.close()
    assert values(found, "jobqueue_jobs_scheduled") == {(): 1.0}
    assert values(found, "jobqueue_scheduled_lateness_seconds_count") == {(): 1.0}
    assert values(found, "jobqueue_scheduled_lateness_seconds_bucket", le="2.5") == {
        (("le", "2.5"),): 0.0
    }
    assert values(found, "jobqueue_scheduled_late_total") == {(): 1.0}
