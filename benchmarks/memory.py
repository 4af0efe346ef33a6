"""Memory: resident size of a worker and of the API, idle and after ``memory_jobs`` jobs.

A ``jobqueue api`` and a ``jobqueue worker`` (registered with it) on RabbitMQ. Jobs are
submitted in batches of 100 over HTTP and the worker drains them as they come. The resident
size (psutil) of each process is read when idle at start (the worker registered with the API,
so it is connected and consuming), after a warm-up (a tenth of the jobs:
caches and buffers reach their working size), after half the jobs, and after all of them, each
time once the worker has run every job submitted so far. A leak shows as growth over the second
half, where a one-off allocation or a high-water mark does not.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

from benchmarks.rig import Rig, load, request_body, rss_mib

SETTLE_S = 1.0
WAIT_S = 900.0
CONNECTIONS = 4
REGISTER_TIMEOUT_S = 60.0


def _submit(rig: Rig, base: str, jobs: int) -> None:
    size = rig.options.batch_size
    body_file = rig.folder / "batch.json"
    body_file.write_bytes(request_body(size))
    requests = max(1, jobs // size)
    args = ["closed", f"{base}/jobs/batch", str(body_file), "--connections", str(CONNECTIONS)]
    result = load([*args, "--requests", str(requests)])
    if set(result["statuses"]) != {"202"} or result["errors"]:
        raise RuntimeError(f"answers other than 202: {result['statuses']}")


def _wait_registered(base: str, worker: Any) -> None:
    """Wait until the worker has registered with the API: it is connected and consuming."""
    deadline = time.monotonic() + REGISTER_TIMEOUT_S
    while time.monotonic() < deadline and worker.poll() is None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{base}/workers", timeout=1.0).json().get("workers"):
                return
        time.sleep(0.1)
    raise RuntimeError("the worker did not register with the API")


def memory(rig: Rig) -> dict[str, Any]:
    """One run: RSS of the worker and the API at four points as the jobs flow through."""
    options = rig.options
    url, queue = options.amqp_url, rig.queue("memory")
    base, grpc, api = rig.start_api(url, queue)
    worker = rig.start_worker(url, queue, api_grpc=grpc)
    size = options.batch_size
    warmup = max(size, options.memory_jobs // 10 // size * size)
    half = max(size, options.memory_jobs // 2 // size * size)
    points: dict[str, tuple[float, float]] = {}
    _wait_registered(base, worker)
    time.sleep(2 * SETTLE_S)
    points["idle"] = (rss_mib(worker.pid), rss_mib(api.pid))
    done = 0
    for label, jobs in (("warm", warmup), ("half", half), ("end", half)):
        _submit(rig, base, jobs)
        done += jobs
        rig.wait_stamps(done, WAIT_S, worker)
        time.sleep(SETTLE_S)
        points[label] = (rss_mib(worker.pid), rss_mib(api.pid))
    record: dict[str, Any] = {"jobs_after_warm_up": done - warmup}
    for index, process in enumerate(("worker", "api")):
        record[f"{process}_idle_mib"] = points["idle"][index]
        record[f"{process}_end_mib"] = points["end"][index]
        record[f"{process}_growth_mib"] = points["end"][index] - points["warm"][index]
        record[f"{process}_second_half_growth_mib"] = points["end"][index] - points["half"][index]
    record["points_mib"] = {label: list(values) for label, values in points.items()}
    return record
