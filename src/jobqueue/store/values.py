"""The values the store trades in: job records, pages of them, idempotency outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobqueue.job import JobState
from jobqueue.store.events import FINISHED_STATES, to_iso

DEFAULT_IN_FLIGHT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class JobRecord:
    """What the store knows about one job. Timestamps are timezone-aware UTC.

    ``attempts`` counts the attempts started (0 while queued); ``progress`` is a fraction 0..1
    of the newest attempt; ``result`` is the handler's JSON return value once ``succeeded``;
    ``error`` is the last error (or why the job died); ``payload`` is None when the record was
    created from a worker's events before the submission was recorded.
    """

    id: str
    type: str
    state: JobState
    attempts: int
    max_attempts: int | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    progress: float | None
    progress_message: str | None
    result: Any
    error: str | None
    next_attempt_at: datetime | None
    cancel_requested: bool
    idempotency_key: str | None
    payload: Any
    waiting_reason: str | None = None
    priority: int = 0
    run_at: datetime | None = None  # a delayed job's due time

    @property
    def finished(self) -> bool:
        """Whether the job is in a final state: succeeded, dead or cancelled."""
        return self.state in FINISHED_STATES

    def to_wire(self) -> dict[str, Any]:
        """The record as JSON: the job's wire fields first, then its state; ISO 8601 times."""
        return {
            "id": self.id,
            "type": self.type,
            "payload": self.payload,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "priority": self.priority,
            "state": self.state.value,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "worker_id": self.worker_id,
            "progress": self.progress,
            "progress_message": self.progress_message,
            "result": self.result,
            "error": None if self.state is JobState.SUCCEEDED else self.error,
            "next_attempt_at": _iso(self.next_attempt_at),
            "cancel_requested": self.cancel_requested,
            "idempotency_key": self.idempotency_key,
            "waiting_reason": self.waiting_reason,
            "run_at": _iso(self.run_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else to_iso(moment)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing, newest first; ``next_cursor`` is None on the last page."""

    records: list[JobRecord]
    next_cursor: str | None


class Reservation(enum.StrEnum):
    """The outcome of reserving an idempotency key."""

    NEW = "new"  # the key is yours: publish the job, then confirm (or release) the key
    EXISTING = "existing"  # the same key and body were submitted before: answer that job
    CONFLICT = "conflict"  # the key was used with a different body
    IN_FLIGHT = "in_flight"  # the same key is being submitted right now and is not confirmed


@dataclass(frozen=True, slots=True)
class IdempotencyOutcome:
    """What :meth:`Store.reserve_idempotency_key` found.

    ``job_id`` is the job the key belongs to (yours when ``NEW``); ``record`` is that job's
    record for ``EXISTING`` (None if the record is gone while the key is not).
    """

    status: Reservation
    job_id: str
    record: JobRecord | None = None
