"""Status-tracking figures: the drain of no-op jobs by one worker with status events off and on.

One run, on one queue, with a ``jobqueue api`` process running throughout (its events consumer
applies the workers' status events to the job store while the worker drains):

1. off: preload N stamp jobs with the broker API; ``jobqueue worker --burst --no-status``
   drains them;
2. on: preload N more; ``jobqueue worker --burst --status`` drains them, publishing each job's
   ``running`` and ``succeeded`` events (the final one confirmed before the job's ack) to
   ``{queue}.events``.

Each rate is timed inside the worker by the ``stamp`` handler, as in the drain figures. The ratio
on / off is the figure (target: at least 0.75). After the on drain, the figure also waits until
the store shows all N jobs ``succeeded`` and reports how long after the worker's exit that was
(the events consumer's lag), so the events are known to have arrived, not only been sent, and
the API's CPU per job meanwhile (its events consumer, and the store's driver).

With status events the worker lets the broker hand it four times ``concurrency`` deliveries, at
least 128 (handlers still run ``concurrency`` at a time): a job whose handler finished waits for
its final events' confirm before its ack, and must not hold back the next ones. Without, the
prefetch is ``concurrency``.

RabbitMQ runs with its store in PostgreSQL (a schema of its own per run, dropped after;
``JOBQUEUE_BENCH_POSTGRES_URL``, default the local ``test`` database); the embedded figure keeps
its store where ``jobqueue api`` does by default: a SQLite file beside the broker's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from typing import Any

import httpx

from benchmarks.drain import DRAIN_TIMEOUT_S, drain_rate
from benchmarks.process import free_port
from benchmarks.rig import Rig, cpu_s, load_average, preload

POSTGRES_URL = os.environ.get(
    "JOBQUEUE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
STORE_CATCH_UP_S = 300.0
PAGE = 1000


def status_rabbitmq(rig: Rig) -> dict[str, Any]:
    """One run on RabbitMQ, the job store in PostgreSQL."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        store_url = f"{POSTGRES_URL}?schema={schema}"
        return _measure(rig, rig.options.amqp_url, rig.queue("status"), store_url)
    finally:
        asyncio.run(_drop_schema(schema))


def status_sqlite(rig: Rig) -> dict[str, Any]:
    """One run on the embedded SQLite broker, the store beside it (the default)."""
    return _measure(rig, rig.sqlite_url(), "jobs", None)


def _measure(rig: Rig, url: str, queue: str, store_url: str | None) -> dict[str, Any]:
    count = rig.options.drain_jobs
    record: dict[str, Any] = {"load_avg_before": load_average(), "jobs": count}
    base_url, api = _start_api(rig, url, queue, store_url)
    off = _drain(rig, url, queue, count, status=False)
    api_cpu_before_s = cpu_s(api.pid)
    on = _drain(rig, url, queue, count, status=True, api=api)
    record.update({f"off_{key}": value for key, value in off.items()})
    record.update({f"on_{key}": value for key, value in on.items()})
    record["ratio"] = on["jobs_per_s"] / off["jobs_per_s"]
    record["store_lag_s"] = _store_caught_up_s(base_url, count)
    record["api_cpu_us_per_job"] = 1e6 * (cpu_s(api.pid) - api_cpu_before_s) / count
    record["load_avg_after"] = load_average()
    return record


def _start_api(
    rig: Rig, url: str, queue: str, store_url: str | None
) -> tuple[str, subprocess.Popen[bytes]]:
    http, grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    args = ["api", "--broker-url", url, "--queue", queue, "--http-addr", http]
    args += ["--grpc-addr", grpc]
    if store_url is not None:
        args += ["--store-url", store_url]
    process = rig.start("api", args, url)
    rig.wait_ready(f"http://{http}", process, "api")
    return f"http://{http}", process


def _drain(
    rig: Rig,
    url: str,
    queue: str,
    count: int,
    *,
    status: bool,
    api: subprocess.Popen[bytes] | None = None,
) -> dict[str, Any]:
    """Preload ``count`` jobs, drain them with one burst worker; its rate and CPU per job."""
    before = len(rig.stamps())
    preload(url, queue, count)
    args = ["worker", "--app", "benchmarks.handlers:handlers", "--broker-url", url]
    args += ["--queue", queue, "--api-grpc", "", "--burst"]
    args += ["--status" if status else "--no-status"]
    if rig.options.concurrency is not None:
        args += ["--concurrency", str(rig.options.concurrency)]
    worker = rig.start("worker-status-on" if status else "worker-status-off", args, url)
    rig.wait_stamps(before + 1, DRAIN_TIMEOUT_S, worker)
    cpu_first_s = cpu_s(worker.pid)
    rig.profile(worker, "worker-status-on" if status else "worker-status-off")
    if api is not None:
        rig.profile(api, "api-status-on")
    rig.wait_stamps(before + count, DRAIN_TIMEOUT_S, worker)
    cpu_last_s = cpu_s(worker.pid)
    rig.stop_profiles()
    code = worker.wait(timeout=120)
    stamps = rig.stamps()[before:]
    distinct = len({stamp.job_id for stamp in stamps})
    if code != 0 or distinct != count:
        raise RuntimeError(f"worker exit {code}; {distinct} distinct jobs of {count} ran")
    rate = drain_rate(stamps)
    return {
        "jobs_per_s": rate,
        "worker_cpu_us_per_job": 1e6 * (cpu_last_s - cpu_first_s) / max(1, count - 1),
    }


def _store_caught_up_s(base_url: str, count: int) -> float:
    """Seconds until the store lists ``count`` succeeded jobs (the events consumer's lag)."""
    started = time.monotonic()
    deadline = started + STORE_CATCH_UP_S
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while True:
            succeeded = _count_succeeded(client)
            if succeeded >= count:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise RuntimeError(f"the store shows {succeeded} of {count} jobs succeeded")
            time.sleep(0.2)


def _count_succeeded(client: httpx.Client) -> int:
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"state": "succeeded", "limit": PAGE}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/jobs", params=params).raise_for_status().json()
        total += len(page["jobs"])
        cursor = page["next_cursor"]
        if cursor is None:
            return total


async def _drop_schema(schema: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()
