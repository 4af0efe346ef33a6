"""``/metrics``: what it counts, from where, with how many labels, and that promtool accepts it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest

from jobqueue.handlers import Handlers
from jobqueue.metrics import Metrics, MetricsSettings
from jobqueue.registry import WorkerReport
from jobqueue.registry.memory import InMemoryRegistry
from tests.metrics.conftest import Metered, metered_app, samples, values


def handlers() -> Handlers:
    """``ok`` succeeds; ``boom`` always fails (and dies after its attempts)."""
    registered = Handlers()

    @registered.job("ok")
    def ok(payload: object) -> str:
        return "done"

    @registered.job("boom", max_attempts=2)
    def boom(payload: object) -> None:
        raise ValueError("it broke")

    return registered


async def run_some(metered: Metered) -> None:
    """Three ``ok`` jobs and one ``boom``, drained and settled in the store."""
    ids = [await metered.submit("ok") for _ in range(3)] + [await metered.submit("boom")]
    await metered.burst(handlers())
    await metered.settled(ids)


def promtool() -> str | None:
    """promtool's path; missing fails the test under CI=true, else skips it."""
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("promtool is missing (Debian's prometheus package)", pytrace=False)
        pytest.skip("promtool is missing (Debian's prometheus package)")
    return found


async def test_promtool_finds_nothing_wrong(metered: Metered) -> None:
    await run_some(metered)
    await metered.registry.register("w-1", WorkerReport(load=1, concurrency=4, queue="jobs"))
    await metered.client.get("/jobs/no-such-job")
    text = await metered.scrape()
    checked = await asyncio.to_thread(
        subprocess.run,
        [promtool(), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "", checked.stdout  # no lint warnings either
    assert checked.stderr.strip() == "", checked.stderr


async def test_jobs_are_counted_by_outcome_from_the_store(metered: Metered) -> None:
    await run_some(metered)
    found = samples(await metered.scrape())
    jobs = {
        (dict(key)["type"], dict(key)["outcome"]): value
        for key, value in values(found, "jobqueue_jobs_total", queue="jobs").items()
    }
    assert jobs == {
        ("ok", "submitted"): 3,
        ("ok", "succeeded"): 3,
        ("boom", "submitted"): 1,
        ("boom", "failed"): 2,
        ("boom", "retried"): 1,
        ("boom", "dead"): 1,
    }
    runs = values(found, "jobqueue_job_run_seconds_count", type="ok")
    waits = values(found, "jobqueue_job_wait_seconds_count", type="boom")
    assert list(runs.values()) == [3]
    assert list(waits.values()) == [1]
    (lag_count,) = values(found, "jobqueue_status_event_apply_lag_seconds_count").values()
    assert lag_count >= 12  # running and an outcome per attempt, and the retry


async def test_another_replica_scrapes_the_same_counters(metered: Metered) -> None:
    """A second API over the same store (a replica, or the first after a restart) shows the
    same totals, though it applied none of the events itself."""
    await run_some(metered)
    first = values(samples(await metered.scrape()), "jobqueue_jobs_total")
    _, _, unentered = metered_app(
        metered.broker, metered.store, InMemoryRegistry(), MetricsSettings()
    )
    async with unentered as replica:
        second = values(samples((await replica.get("/metrics")).text), "jobqueue_jobs_total")
    assert first
    assert second == first


@pytest.mark.parametrize("metrics_settings", [MetricsSettings(max_types=2)])
async def test_job_types_past_the_bound_count_as_other(metered: Metered) -> None:
    for job_type in ("a", "b", "c", "d"):
        await metered.submit(job_type)
    submitted = values(samples(await metered.scrape()), "jobqueue_jobs_total", outcome="submitted")
    by_type = {dict(key)["type"]: value for key, value in submitted.items()}
    assert by_type.pop("other") == 2
    assert by_type == {"a": 1, "b": 1}


async def test_requests_are_labelled_by_route_template(metered: Metered) -> None:
    for job_id in ("one", "two", "three"):
        await metered.client.get(f"/jobs/{job_id}")
    await metered.client.get("/no/such/route")
    found = samples(await metered.scrape())
    requests = values(found, "jobqueue_http_requests_total", method="GET", status="404")
    routes = {dict(key)["route"]: value for key, value in requests.items()}
    assert routes == {"/jobs/{job_id}": 3, "unmatched": 1}
    submitted = await metered.submit("ok")
    assert submitted
    posted = values(samples(await metered.scrape()), "jobqueue_http_requests_total", method="POST")
    assert {dict(key)["route"] for key in posted} == {"/jobs"}


async def test_a_worker_series_ends_when_it_expires(metered: Metered) -> None:
    now = [0.0]
    registry = InMemoryRegistry(ttl_s=10, clock=lambda: now[0])
    metrics = Metrics("jobs", metered.broker, metered.store, registry)
    await registry.register("w-1", WorkerReport(load=2, concurrency=8, queue="jobs"))
    found = samples((await metrics.exposition()).decode())
    assert values(found, "jobqueue_worker_in_flight") == {(("worker", "w-1"),): 2}
    assert values(found, "jobqueue_queue_depth", state="in_flight") == {
        (("queue", "jobs"), ("state", "in_flight")): 2
    }
    now[0] = 11.0
    metrics.watch_workers(registry)  # read again now, not after the cache's second
    found = samples((await metrics.exposition()).decode())
    assert values(found, "jobqueue_worker_in_flight") == {}
    assert values(found, "jobqueue_workers", state="active") == {(("state", "active"),): 0}


async def test_without_metrics_there_is_no_route(metered: Metered) -> None:
    from jobqueue.api.app import create_app
    from tests.api.conftest import asgi_client

    async with asgi_client(create_app(metered.broker)) as client:
        assert (await client.get("/metrics")).status_code == 404
