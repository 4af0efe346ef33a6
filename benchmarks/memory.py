"""Memory: resident size of a worker and of the API, idle and after ``memory_jobs`` jobs.

A ``jobqueue api`` and a ``jobqueue worker`` (registered with it) on RabbitMQ. Jobs are
submitted in batches of 100 over HTTP and the worker drains them as they come. The resident
size (psutil) of each process is read when idle at start (the worker registered with the API,
so it is connected and consuming), then after each tenth of the jobs, once the worker has run
every job submitted so far; the first tenth is the warm-up (caches and buffers reach their
working size). A leak shows as growth over the second half, where a one-off allocation or a
high-water mark does not. Resident sizes wander by a few MiB as allocator arenas and SQLite's
page caches fill and shrink, so the second half's growth compares medians of three readings:
after the last three tenths against around the half (after 4, 5 and 6 tenths).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any

import httpx

from benchmarks.rig import Rig, load, request_body, rss_mib

SETTLE_S = 1.0
WAIT_S = 900.0
CONNECTIONS = 4
REGISTER_TIMEOUT_S = 60.0
STEPS = 10


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
    """One run: RSS of the worker and the API when idle, then after each tenth of the jobs."""
    options = rig.options
    url, queue = options.amqp_url, rig.queue("memory")
    base, grpc, api = rig.start_api(url, queue)
    worker = rig.start_worker(url, queue, api_grpc=grpc)
    step = max(
        options.batch_size, options.memory_jobs // STEPS // options.batch_size * options.batch_size
    )
    _wait_registered(base, worker)
    time.sleep(2 * SETTLE_S)
    points = [(rss_mib(worker.pid), rss_mib(api.pid))]
    for tenth in range(1, STEPS + 1):
        _submit(rig, base, step)
        rig.wait_stamps(tenth * step, WAIT_S, worker)
        time.sleep(SETTLE_S)
        points.append((rss_mib(worker.pid), rss_mib(api.pid)))
    record: dict[str, Any] = {"jobs": STEPS * step, "jobs_after_warm_up": (STEPS - 1) * step}
    for index, process in enumerate(("worker", "api")):
        sizes = [point[index] for point in points]
        record[f"{process}_idle_mib"] = sizes[0]
        record[f"{process}_end_mib"] = sizes[-1]
        record[f"{process}_growth_mib"] = sizes[-1] - sizes[1]
        around_half = statistics.median(sizes[4:7])
        record[f"{process}_second_half_growth_mib"] = statistics.median(sizes[-3:]) - around_half
    record["points_mib"] = [list(point) for point in points]
    return record
