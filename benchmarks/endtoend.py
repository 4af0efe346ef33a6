"""End to end: ``jobqueue up`` (API + 2 worker processes) on RabbitMQ, jobs submitted over HTTP.

The load generator sends ``e2e_jobs`` ``POST /jobs`` requests, one job each, over 32 keep-alive
connections, while the workers drain the queue. The figure is jobs per second from the first
request's start to the last job's start in a handler (every job must run). A warm-up goes first
until both workers have run a job, so that neither is still starting when the clock starts.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.process import free_port
from benchmarks.rig import APP, Rig, load, load_average, request_body

WARMUP_JOBS = 16
WARMUP_ROUNDS = 20
WAIT_S = 600.0


def _warm_up(rig: Rig, base: str, workers: int, process: Any) -> int:
    """Submit small rounds of jobs until every worker ran one; how many were submitted."""
    sent = 0
    for _ in range(WARMUP_ROUNDS):
        load(["paced", f"{base}/jobs", "--rate", "200", "--requests", str(WARMUP_JOBS)])
        sent += WARMUP_JOBS
        stamps = rig.wait_stamps(sent, 60, process)
        if len({s.worker_id for s in stamps}) >= workers:
            return sent
        time.sleep(0.2)
    raise RuntimeError(f"not every one of {workers} workers ran a job during the warm-up")


def end_to_end(rig: Rig, url: str | None = None) -> dict[str, Any]:
    """One run: ``jobqueue up``, warm-up, then ``e2e_jobs`` submissions drained by the workers."""
    options = rig.options
    url = url or options.amqp_url
    queue = rig.queue_on(url, "e2e")
    http, grpc = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    args = ["up", "--workers", str(options.e2e_workers), "--app", APP, "--broker-url", url]
    args += ["--queue", queue, "--http-addr", http, "--grpc-addr", grpc]
    if options.concurrency is not None:
        args += ["--concurrency", str(options.concurrency)]
    up = rig.start("up", args, url)
    base = f"http://{http}"
    rig.wait_ready(base, up, "up")
    warm = _warm_up(rig, base, options.e2e_workers, up)
    body_file = rig.folder / "body.json"
    body_file.write_bytes(request_body(1))
    count = options.e2e_jobs
    rig.profile(up, "up", children=True)
    result = load(
        [
            "closed",
            f"{base}/jobs",
            str(body_file),
            "--connections",
            str(options.submit_connections),
            "--requests",
            str(count),
        ]
    )
    if set(result["statuses"]) != {"202"} or result["errors"]:
        raise RuntimeError(f"answers other than 202: {result['statuses']}")
    stamps = rig.wait_stamps(warm + count, WAIT_S, up)
    rig.stop_profiles()
    measured = [s for s in stamps if s.started_ns >= result["started_ns"]]
    last_ns = max(s.started_ns for s in measured)
    by_worker: dict[str, int] = {}
    for stamp in measured:
        by_worker[stamp.worker_id] = by_worker.get(stamp.worker_id, 0) + 1
    return {
        "load_avg": load_average(),
        "jobs": count,
        "jobs_per_s": count / ((last_ns - result["started_ns"]) / 1e9),
        "submit_per_s": result["requests"] / result["elapsed_s"],
        "jobs_by_worker": sorted(by_worker.values(), reverse=True),
    }
