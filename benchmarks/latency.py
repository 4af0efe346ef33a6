"""Latency figures: HTTP request start → handler start, at a steady rate, through real processes.

A ``jobqueue api`` process and one ``jobqueue worker`` process (registered with the API over
gRPC, as deployed) share a broker. The paced load generator starts a ``POST /jobs`` every
``1/rate`` s (open loop: it does not wait for answers) and puts the wall-clock time the request
started in the job's payload; the ``stamp`` handler records the wall-clock time it started.
Both clocks are the same machine's. A short warm-up at the same rate goes first and is left out.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.rig import Rig, load, load_average, loop_shares, loop_thread_s, percentile

WARMUP_JOBS = 20
WAIT_S = 60.0


def _latency(rig: Rig, url: str) -> dict[str, Any]:
    options = rig.options
    queue = rig.queue_on(url, "latency")
    base, grpc, api = rig.start_api(url, queue)
    worker = rig.start_worker(url, queue, api_grpc=grpc)
    paced = ["paced", f"{base}/jobs", "--rate", str(options.latency_rate)]
    warmup = min(WARMUP_JOBS, options.latency_jobs)
    load([*paced, "--requests", str(warmup)])
    rig.wait_stamps(warmup, WAIT_S, worker)
    rig.profile(api, "api")
    rig.profile(worker, "worker")
    loops_before = loop_thread_s(api.pid), loop_thread_s(worker.pid)
    started = time.perf_counter()
    result = load([*paced, "--requests", str(options.latency_jobs)])
    wall_s = time.perf_counter() - started
    loops_after = loop_thread_s(api.pid), loop_thread_s(worker.pid)
    if set(result["statuses"]) != {"202"} or result["errors"]:
        raise RuntimeError(f"answers other than 202: {result['statuses']}")
    stamps = rig.wait_stamps(warmup + options.latency_jobs, WAIT_S, worker)
    rig.stop_profiles()
    measured = [s for s in stamps if s.sent_ns >= result["started_ns"]]
    to_handler = [(s.started_ns - s.sent_ns) / 1e6 for s in measured]
    http = result["latencies_ms"]
    return {
        "load_avg": load_average(),
        "jobs": len(measured),
        "rate": options.latency_rate,
        "p50_ms": percentile(to_handler, 0.50),
        "p90_ms": percentile(to_handler, 0.90),
        "p99_ms": percentile(to_handler, 0.99),
        "max_ms": max(to_handler),
        "http_p50_ms": percentile(http, 0.50),
        "http_p99_ms": percentile(http, 0.99),
        "pacing_lag_max_ms": result["lag_max_ms"],
        **loop_shares(loops_before[0], loops_after[0], wall_s, "api"),
        **loop_shares(loops_before[1], loops_after[1], wall_s, "worker"),
    }


def latency_rabbitmq(rig: Rig) -> dict[str, Any]:
    """One run on RabbitMQ."""
    return _latency(rig, rig.options.amqp_url)


def latency_sqlite(rig: Rig) -> dict[str, Any]:
    """One run on a fresh SQLite file shared by the API and the worker."""
    return _latency(rig, rig.sqlite_url())
