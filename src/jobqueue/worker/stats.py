"""A worker's self-description, as its heartbeats carry it to the control plane."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """What a worker reports about itself in every heartbeat."""

    worker_id: str
    in_flight: int
    concurrency: int
    job_types: tuple[str, ...]
    queue: str
    host: str
    pid: int
    version: str
    started_at_unix: float
    processed: int
    failed: int
    job_ids: tuple[str, ...]
    state: str  # "active", "paused" or "draining"
    broker: str = ""  # the broker consumed (see jobqueue.brokers.broker_identity)
