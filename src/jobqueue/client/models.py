"""The values the client answers with: jobs, their events, dead jobs, workers, pages of them.

Each is a frozen dataclass read from the API's JSON by ``from_wire``, with times as aware
``datetime`` values; fields the API leaves out take their defaults, so an older or newer API's
answer still reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from jobqueue.job import JobState

__all__ = [
    "FINISHED_STATES",
    "Batch",
    "BulkResult",
    "DeadGroup",
    "DeadJob",
    "Job",
    "JobEvent",
    "JobState",
    "Page",
    "Submission",
    "Worker",
]

T = TypeVar("T")
Wire = Mapping[str, Any]

FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})
"""The states a job never leaves."""


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as the API writes it (``2026-12-04T01:02:03.123456Z``), or None."""
    return None if value is None else datetime.fromisoformat(str(value))


def _time(wire: Wire, name: str) -> datetime | None:
    return parse_time(wire.get(name))


def _required_time(wire: Wire, name: str) -> datetime:
    moment = parse_time(wire[name])
    assert moment is not None
    return moment


@dataclass(frozen=True, slots=True)
class Job:
    """What the API knows about a job (``GET /jobs/{id}``): its fields, state and outcome."""

    id: str
    type: str
    state: JobState
    payload: Any
    attempts: int
    max_attempts: int | None
    priority: int
    created_at: datetime
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_at: datetime | None = None
    worker_id: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    result: Any = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    cancel_requested: bool = False
    idempotency_key: str | None = None
    waiting_reason: str | None = None
    schedule: str | None = None
    schedule_tick_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the job is in a state it never leaves: succeeded, dead or cancelled."""
        return self.state in FINISHED_STATES

    @classmethod
    def from_wire(cls, wire: Wire) -> Job:
        """Read a job record as the API answers it."""
        return cls(
            id=wire["id"],
            type=wire["type"],
            state=JobState(wire["state"]),
            payload=wire.get("payload"),
            attempts=wire.get("attempts", 0),
            max_attempts=wire.get("max_attempts"),
            priority=wire.get("priority", 0),
            created_at=_required_time(wire, "created_at"),
            updated_at=_time(wire, "updated_at"),
            started_at=_time(wire, "started_at"),
            finished_at=_time(wire, "finished_at"),
            run_at=_time(wire, "run_at"),
            worker_id=wire.get("worker_id"),
            progress=wire.get("progress"),
            progress_message=wire.get("progress_message"),
            result=wire.get("result"),
            error=wire.get("error"),
            next_attempt_at=_time(wire, "next_attempt_at"),
            cancel_requested=bool(wire.get("cancel_requested", False)),
            idempotency_key=wire.get("idempotency_key"),
            waiting_reason=wire.get("waiting_reason"),
            schedule=wire.get("schedule"),
            schedule_tick_at=_time(wire, "schedule_tick_at"),
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """A submitted job as the API accepted it.

    ``created`` is False when no job was queued for it: another job holding its
    ``unique_key`` was answered (its id, and its ``state``). A submission the client sent
    again after a lost answer is still ``created``: its idempotency key found its own job.
    """

    id: str
    type: str | None
    payload: Any
    attempts: int
    created: bool
    max_attempts: int | None = None
    priority: int = 0
    created_at: datetime | None = None
    run_at: datetime | None = None
    state: JobState | None = None
    idempotency_key: str | None = None
    warning: str | None = None

    @classmethod
    def from_wire(cls, wire: Wire, idempotency_key: str | None = None) -> Submission:
        """Read the answer to a submission made under ``idempotency_key``."""
        state = wire.get("state")
        fresh = state is None and "type" in wire  # a new job's body, not a record
        return cls(
            id=wire["id"],
            type=wire.get("type"),
            payload=wire.get("payload"),
            attempts=wire.get("attempts", 0),
            created=fresh or _own_key(wire, idempotency_key),
            max_attempts=wire.get("max_attempts"),
            priority=wire.get("priority", 0),
            created_at=_time(wire, "created_at"),
            run_at=_time(wire, "run_at"),
            state=None if state is None else JobState(state),
            idempotency_key=idempotency_key,
            warning=wire.get("warning"),
        )


def _own_key(wire: Wire, idempotency_key: str | None) -> bool:
    """Whether an existing job answered is the one this idempotency key made."""
    return idempotency_key is not None and wire.get("idempotency_key") == idempotency_key


@dataclass(frozen=True, slots=True)
class Batch:
    """The jobs of a batch as accepted, in the order submitted; ``warning`` names job types
    of the batch that no live worker serves yet."""

    jobs: list[Submission]
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One entry of a job's history (``kind``: queued, running, progress, failed_attempt,
    retrying, waiting, succeeded, dead, cancelled)."""

    event_id: str
    job_id: str
    kind: str
    attempt: int
    at: datetime
    job_type: str
    worker_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    max_attempts: int | None = None
    created_at: datetime | None = None

    @classmethod
    def from_wire(cls, wire: Wire) -> JobEvent:
        """Read one event of ``GET /jobs/{id}/events``."""
        return cls(
            event_id=wire["event_id"],
            job_id=wire["job_id"],
            kind=wire["kind"],
            attempt=wire.get("attempt", 0),
            at=_required_time(wire, "at"),
            job_type=wire.get("job_type", ""),
            worker_id=wire.get("worker_id"),
            data=dict(wire.get("data") or {}),
            max_attempts=wire.get("max_attempts"),
            created_at=_time(wire, "created_at"),
        )


@dataclass(frozen=True, slots=True)
class DeadJob:
    """A job in the dead-letter queue and why it died. ``type`` and ``payload`` are None and
    ``body`` is the raw message for one that is not a job; ``traceback``, ``first_failed_at``
    and ``job`` (the whole job as stored) come with ``get_dead`` only."""

    id: str
    type: str | None
    attempts: int
    reason: str
    error: str | None
    failed_at: datetime | None
    worker_id: str | None
    payload: Any
    body: str | None = None
    traceback: str | None = None
    first_failed_at: datetime | None = None
    job: dict[str, Any] | None = None

    @classmethod
    def from_wire(cls, wire: Wire) -> DeadJob:
        """Read a dead job of ``GET /dlq`` or ``GET /dlq/{id}``."""
        return cls(
            id=wire["id"],
            type=wire.get("type"),
            attempts=wire.get("attempts", 0),
            reason=wire.get("reason", ""),
            error=wire.get("error"),
            failed_at=_time(wire, "failed_at"),
            worker_id=wire.get("worker_id"),
            payload=wire.get("payload"),
            body=wire.get("body"),
            traceback=wire.get("traceback"),
            first_failed_at=_time(wire, "first_failed_at"),
            job=wire.get("job"),
        )


@dataclass(frozen=True, slots=True)
class DeadGroup:
    """Dead jobs of one type that died of the same error (numbers, ids and quoted values of
    its message masked): how many, when, and the latest one's error."""

    fingerprint: str
    job_type: str | None
    error_type: str
    message: str
    count: int
    first_seen_unix: float | None
    last_seen_unix: float | None
    sample_job_id: str
    sample_error: str | None = None
    sample_traceback: str | None = None

    @classmethod
    def from_wire(cls, wire: Wire) -> DeadGroup:
        """Read a group of ``GET /dlq/groups``."""
        return cls(
            fingerprint=wire["fingerprint"],
            job_type=wire.get("job_type"),
            error_type=wire.get("error_type", ""),
            message=wire.get("message", ""),
            count=wire.get("count", 0),
            first_seen_unix=wire.get("first_seen_unix"),
            last_seen_unix=wire.get("last_seen_unix"),
            sample_job_id=wire.get("sample_job_id", ""),
            sample_error=wire.get("sample_error"),
            sample_traceback=wire.get("sample_traceback"),
        )


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk action did: the jobs named or matched, acted on, and skipped (not in a state
    the action applies to); ``truncated`` when the filter matched more than one request takes."""

    matched: int
    done: int
    skipped: int
    truncated: bool

    @classmethod
    def from_wire(cls, wire: Wire) -> BulkResult:
        """Read the answer of ``POST /jobs/bulk``."""
        return cls(wire["matched"], wire["done"], wire["skipped"], bool(wire["truncated"]))


@dataclass(frozen=True, slots=True)
class Worker:
    """A live worker as it last reported (``state``: active, paused, draining or drained)."""

    worker_id: str
    state: str
    load: int
    concurrency: int
    job_types: list[str]
    queue: str
    host: str
    pid: int
    version: str
    processed: int
    failed: int
    job_ids: list[str]
    broker: str
    started_at_unix: float
    last_seen_unix: float
    seen_ago_s: float
    registered_at_unix: float
    pending_command: str | None = None

    @classmethod
    def from_wire(cls, wire: Wire) -> Worker:
        """Read a worker of ``GET /workers``."""
        return cls(
            worker_id=wire["worker_id"],
            state=wire.get("state", ""),
            load=wire.get("load", 0),
            concurrency=wire.get("concurrency", 0),
            job_types=list(wire.get("job_types", [])),
            queue=wire.get("queue", ""),
            host=wire.get("host", ""),
            pid=wire.get("pid", 0),
            version=wire.get("version", ""),
            processed=wire.get("processed", 0),
            failed=wire.get("failed", 0),
            job_ids=list(wire.get("job_ids", [])),
            broker=wire.get("broker", ""),
            started_at_unix=wire.get("started_at_unix", 0.0),
            last_seen_unix=wire.get("last_seen_unix", 0.0),
            seen_ago_s=wire.get("seen_ago_s", 0.0),
            registered_at_unix=wire.get("registered_at_unix", 0.0),
            pending_command=wire.get("pending_command"),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_cursor`` as ``cursor`` for the next (None: the last)."""

    items: list[T]
    next_cursor: str | None
