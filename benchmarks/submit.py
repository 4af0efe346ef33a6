"""Submit figures: a real ``jobqueue api`` process under HTTP load, one job or a batch per request.

The load comes from ``benchmarks.loadgen`` in a process of its own: keep-alive connections,
each sending the next request as soon as its answer is read, for a fixed time after a warm-up.
Every answer must be 202 (the broker confirmed the job); any other status fails the figure.
With a batch per request the same run first times the bare pika publisher (pipelined confirms,
200-byte persistent messages) on the same RabbitMQ, for the ratio.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from benchmarks.rig import (
    Rig,
    bare,
    cpu_percent,
    cpu_s,
    load,
    load_average,
    loop_shares,
    loop_thread_s,
    percentile,
    request_body,
)

WARMUP_S = 1.0

Beside = Callable[[str], AbstractContextManager[object]]
"""Something to run against the API's base URL while it is loaded (a scraper)."""


def _load_api(
    rig: Rig,
    url: str,
    path: str,
    jobs_per_request: int,
    connections: int,
    token: str | None = None,
    beside: Beside | None = None,
) -> dict[str, Any]:
    """Start an API on ``url`` and load ``path`` with ``connections``; the measured record.
    With ``token``, the API requires it (its probes open) and every request carries it; with
    ``beside``, that runs against the API during the load."""
    queue = rig.queue_on(url, "submit")
    extra = ["--open-probes"] if token else []
    base, _, api = rig.start_api(url, queue, extra)
    body_file = rig.folder / "body.json"
    body_file.write_bytes(request_body(jobs_per_request))
    options = rig.options
    warmup_s = min(WARMUP_S, options.submit_duration_s / 2)
    args = ["closed", f"{base}{path}", str(body_file), "--connections", str(connections)]
    args += ["--duration-s", str(options.submit_duration_s), "--warmup-s", str(warmup_s)]
    cpu_before_s, loop_before = cpu_s(api.pid), loop_thread_s(api.pid)
    rig.profile(api, "api")
    started = time.perf_counter()
    with beside(base) if beside is not None else contextlib.nullcontext():
        result = load(args, env={"JOBQUEUE_TOKEN": token} if token else None)
    wall_s = time.perf_counter() - started
    api_cpu_s, loop_after = cpu_s(api.pid) - cpu_before_s, loop_thread_s(api.pid)
    rig.stop_profiles()
    api_cpu = cpu_percent(api_cpu_s, options.submit_duration_s + warmup_s)
    statuses, latencies = result["statuses"], result["latencies_ms"]
    if set(statuses) != {"202"} or result["errors"]:
        raise RuntimeError(f"answers other than 202: {statuses}, {result['errors']} errors")
    requests = result["requests"]
    return {
        "load_avg_before": load_average(),
        "requests": requests,
        "requests_per_s": requests / result["elapsed_s"],
        "jobs_per_s": requests * jobs_per_request / result["elapsed_s"],
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "api_cpu_percent": api_cpu,
        **loop_shares(loop_before, loop_after, wall_s, "api"),
        "api_cpu_us": 1e6 * api_cpu_s / max(1, result["answered_in_all"] * jobs_per_request),
        # The generator shares the machine's cores with the API: what it costs, it takes away.
        "loadgen_cpu_us_per_request": 1e6 * result["cpu_s"] / max(1, result["answered_in_all"]),
        "connections": connections,
        "jobs_per_request": jobs_per_request,
    }


def submit_http(rig: Rig, url: str | None = None, beside: Beside | None = None) -> dict[str, Any]:
    """One run of ``POST /jobs``, one job per request, 32 connections."""
    options = rig.options
    return _load_api(
        rig, url or options.amqp_url, "/jobs", 1, options.submit_connections, beside=beside
    )


BENCH_TOKEN = "bench-" + "k" * 40


def submit_http_auth(rig: Rig, url: str | None = None) -> dict[str, Any]:
    """``submit-http`` behind the token gate: the API holds a submit token (from
    ``JOBQUEUE_TOKENS``) and every request sends it, so the gate checks each one."""
    options = rig.options
    rig.extra_env["JOBQUEUE_TOKENS"] = f"bench:submit:{BENCH_TOKEN}"
    try:
        return _load_api(
            rig, url or options.amqp_url, "/jobs", 1, options.submit_connections, BENCH_TOKEN
        )
    finally:
        rig.extra_env.pop("JOBQUEUE_TOKENS")


def submit_batch(rig: Rig, url: str | None = None) -> dict[str, Any]:
    """One run: the bare confirmed publisher, then ``POST /jobs/batch`` of 100 jobs."""
    options = rig.options
    record: dict[str, Any] = {}
    if url is None or url.startswith("amqp"):
        url = url or options.amqp_url
        published = bare("publish", url, rig.queue("bare"), options.drain_jobs)
        record["bare_publish_per_s"] = published["rate_per_s"]
        record["bare_publish_cpu_us"] = published["cpu_us_per_message"]
    record.update(_load_api(rig, url, "/jobs/batch", options.batch_size, options.batch_connections))
    if "bare_publish_per_s" in record:
        record["ratio_to_bare"] = record["jobs_per_s"] / record["bare_publish_per_s"]
    return record
