"""``GET /stats/overview`` and the percentiles and depth samples behind it."""

from __future__ import annotations

import math

import pytest

from jobqueue.handlers import Handlers
from jobqueue.metrics.fleet import FleetReader
from jobqueue.registry import WorkerReport
from jobqueue.stats.quantiles import quantile
from jobqueue.stats.sampler import sample_once
from tests.metrics.conftest import Metered


def test_quantiles_interpolate_within_their_bucket() -> None:
    buckets = {0.1: 50.0, 1.0: 50.0, math.inf: 0.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.75, buckets) == pytest.approx(0.55)
    assert quantile(0.99, {0.1: 1.0, math.inf: 99.0}) == pytest.approx(0.1)
    assert quantile(0.5, {0.1: 0.0}) is None


async def test_overview_counts_rates_depth_and_workers(metered: Metered) -> None:
    handlers = Handlers()
    handlers.job("ok")(lambda payload: None)
    ids = [await metered.submit("ok") for _ in range(6)]
    await metered.registry.register("w-1", WorkerReport(load=1, concurrency=4, queue="jobs"))
    fleet = FleetReader("jobs", metered.broker, metered.registry)
    assert await sample_once(fleet, metered.store)  # 6 ready, filed in the store
    await metered.burst(handlers)
    await metered.settled(ids)
    answer = await metered.client.get("/stats/overview")
    assert answer.status_code == 200, answer.text
    overview = answer.json()
    assert (overview["window_s"], overview["bucket_s"]) == (900, 60)
    submitted = overview["throughput"]["submitted"]
    assert len(submitted) == 15
    assert submitted[-1][1] > 0
    assert max(value for _, value in overview["depth"]["ready"] if value is not None) == 6
    assert overview["states"]["succeeded"] == 6
    assert overview["totals"] == {"submitted": 6, "succeeded": 6}
    assert overview["run_seconds"]["p50"] is not None
    assert overview["wait_seconds"]["p95"] is not None
    assert overview["workers"]["total"] == 1
    assert overview["workers"]["concurrency"] == 4
    day = (await metered.client.get("/stats/overview", params={"window": "24h"})).json()
    assert (len(day["throughput"]["succeeded"]), day["bucket_s"]) == (96, 900)


async def test_an_unknown_window_is_refused(metered: Metered) -> None:
    answer = await metered.client.get("/stats/overview", params={"window": "1y"})
    assert answer.status_code == 422
    assert "window" in answer.json()["error"]["message"]
