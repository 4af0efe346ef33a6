"""``jobqueue worker --metrics-addr``: the worker's own /metrics, off unless asked for."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import httpx
import pytest

from jobqueue.metrics.worker import serving_worker_metrics, worker_registry
from jobqueue.worker.stats import WorkerStats
from tests.metrics.conftest import samples, values
from tests.services import free_port


def stats(processed: int = 7) -> WorkerStats:
    """A worker's report: 7 jobs done, 2 failed attempts, 1 in flight of 4, paused."""
    return WorkerStats(
        worker_id="w",
        in_flight=1,
        concurrency=4,
        job_types=("ok",),
        queue="jobs",
        host="h",
        pid=1,
        version="0",
        started_at_unix=0.0,
        processed=processed,
        failed=2,
        job_ids=("j",),
        state="paused",
    )


def test_the_worker_families_read_its_stats_when_scraped() -> None:
    from prometheus_client import generate_latest

    now = [stats(1)]
    registry = worker_registry(lambda: now[0])
    now[0] = stats(7)
    found = samples(generate_latest(registry).decode())
    assert values(found, "jobqueue_worker_jobs_processed_total") == {(): 7}
    assert values(found, "jobqueue_worker_attempts_failed_total") == {(): 2}
    assert values(found, "jobqueue_worker_jobs_in_flight") == {(): 1}
    assert values(found, "jobqueue_worker_state", state="paused") == {(("state", "paused"),): 1}
    assert values(found, "process_cpu_seconds_total")


def test_a_taken_address_is_a_config_error() -> None:
    from jobqueue.errors import ConfigError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(ConfigError, match="--metrics-addr"),
            serving_worker_metrics(stats, f"127.0.0.1:{port}"),
        ):
            pass


async def test_a_worker_process_serves_its_metrics(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'broker.db'}"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "jobqueue", "worker", "--broker-url", url),
        *("--metrics-addr", f"127.0.0.1:{port}"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(20):
            while True:
                try:
                    answer = await client.get(f"http://127.0.0.1:{port}/metrics")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
        found = samples(answer.text)
        assert values(found, "jobqueue_worker_job_slots") == {(): 8}
        assert values(found, "jobqueue_worker_state", state="active") == {(("state", "active"),): 1}
    finally:
        process.terminate()
        async with asyncio.timeout(20):
            assert await process.wait() == 0
