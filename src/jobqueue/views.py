"""Plain-dict views of dead jobs, shared by the HTTP API and the command line."""

from __future__ import annotations

from typing import Any

from jobqueue.brokers import DeadJob


def dead_job_view(dead: DeadJob) -> dict[str, Any]:
    """A dead job as listed: who it was, why it died, its payload (exact numbers kept)."""
    job = dead.job
    death = dead.death
    view: dict[str, Any] = {
        "id": dead.message_id,
        "type": job.type if job else None,
        "attempts": death.attempts or (job.attempts if job else 0),
        "reason": death.reason,
        "error": death.error,
        "failed_at": death.failed_at,
        "worker_id": death.worker_id,
        "payload": job.payload if job else None,
    }
    if job is None:
        view["body"] = dead.body.decode("utf-8", errors="replace")
    return view


def dead_job_detail(dead: DeadJob) -> dict[str, Any]:
    """One dead job with the traceback and the whole job as it was stored."""
    job = dead.job
    return {
        **dead_job_view(dead),
        "traceback": dead.death.traceback,
        "first_failed_at": dead.death.first_failed_at,
        "job": job.to_wire() if job else None,
    }
