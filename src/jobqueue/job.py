"""The job: its wire format (the original's fields first, new ones beside) and its states."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uuid_utils

from jobqueue import codec
from jobqueue.errors import DecodeError
from jobqueue.limits.policy import JobLimit


def utc_now() -> str:
    """The current time as :func:`iso_utc` writes it."""
    return iso_utc(datetime.now(UTC))


def iso_utc(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a ``Z`` (``2026-12-03T12:00:00.123456Z``): the one
    form of every time jobqueue answers, the job store's included."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """A fresh job id: a UUIDv7 (RFC 9562), a UUID like the original's UUID4s, but time-ordered.

    Its first 48 bits are the Unix time in milliseconds, the rest random (and rising within a
    millisecond): ids sort in creation order, so the job store's indexes of job ids grow at
    their end, where a random UUID4 would rewrite a random page of each index for every job
    (with SQLite, about four times the CPU per recorded job).
    """
    return str(uuid_utils.uuid7())


MAX_PRIORITY = 9
"""Priorities run from 0 (the default, lowest) to this (highest): higher is delivered first."""


class JobState(enum.StrEnum):
    """Where a job is in its life (``scheduled``: waiting in the job store for its ``run_at``)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    WAITING = "waiting"  # delivered, but deferred by a concurrency or rate limit: unrun
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work. ``attempts`` counts the attempts already made (a new job has 0).

    ``unserved_since`` is set while the job waits for a worker that serves its type (no live
    worker had a handler for it when a worker without one received it): when that began.
    ``first_failed_at`` is set once an attempt failed: when the first one did.
    ``priority`` (0 to :data:`MAX_PRIORITY`, higher first) orders it among jobs due together.
    ``headers`` travel beside the body, as the broker message's headers (the trace context:
    ``traceparent``, ``tracestate``); they are neither in the body nor in answers to clients.
    ``run_at`` (ISO 8601 UTC) is set on a delayed job: it waits in the job store until then.
    """

    type: str
    payload: Any
    id: str = field(default_factory=new_job_id)
    attempts: int = 0
    max_attempts: int | None = None
    created_at: str = field(default_factory=utc_now)
    unserved_since: str | None = None
    first_failed_at: str | None = None
    priority: int = 0
    headers: Mapping[str, str] | None = field(default=None, compare=False, repr=False)
    limit: JobLimit | None = None  # its concurrency key and limits (jobqueue.limits)
    run_at: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent on the wire and answered to clients; original fields first."""
        wire: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "payload": self.payload,
            "attempts": self.attempts,
        }
        if self.max_attempts is not None:
            wire["max_attempts"] = self.max_attempts
        if self.priority:
            wire["priority"] = self.priority
        wire["created_at"] = self.created_at
        if self.unserved_since is not None:
            wire["unserved_since"] = self.unserved_since
        if self.first_failed_at is not None:
            wire["first_failed_at"] = self.first_failed_at
        if self.limit is not None:
            wire.update(self.limit.to_wire())
        if self.run_at is not None:
            wire["run_at"] = self.run_at
        return wire

    def encode(self) -> bytes:
        """The message body: UTF-8 JSON of :meth:`to_wire`."""
        return codec.dumps(self.to_wire())

    def next_attempt(self) -> Job:
        """The same job with one more attempt counted."""
        return dataclasses.replace(self, attempts=self.attempts + 1, unserved_since=None)

    def fresh(self) -> Job:
        """The same job with its attempts reset, as a replay from the dead-letter queue wants."""
        return dataclasses.replace(self, attempts=0, unserved_since=None, first_failed_at=None)

    @classmethod
    def decode(cls, body: bytes, headers: Mapping[str, str] | None = None) -> Job:
        """Parse a message body (delivered with ``headers``); raises :class:`DecodeError`
        naming what is wrong."""
        try:
            data = codec.loads(body)
        except ValueError as exc:
            raise DecodeError(f"body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise DecodeError("body is not a JSON object")
        return cls._from_mapping(data, headers)

    @classmethod
    def _from_mapping(cls, data: dict[str, Any], headers: Mapping[str, str] | None) -> Job:
        job_id, job_type = data.get("id"), data.get("type")
        attempts, max_attempts = data.get("attempts", 0), data.get("max_attempts")
        if not isinstance(job_id, str) or not job_id:
            raise DecodeError("job has no string 'id'")
        if not isinstance(job_type, str) or not job_type:
            raise DecodeError("job has no string 'type'")
        if not _is_count(attempts):
            raise DecodeError("job 'attempts' is not a non-negative integer")
        if max_attempts is not None and not (_is_count(max_attempts) and max_attempts >= 1):
            raise DecodeError("job 'max_attempts' is not a positive integer")
        priority = data.get("priority", 0)
        if not (_is_count(priority) and priority <= MAX_PRIORITY):
            raise DecodeError(f"job 'priority' is not an integer from 0 to {MAX_PRIORITY}")
        created_at, unserved_since = data.get("created_at"), data.get("unserved_since")
        first_failed_at, run_at = data.get("first_failed_at"), data.get("run_at")
        return cls(
            id=job_id,
            type=job_type,
            payload=data.get("payload"),
            attempts=attempts,
            max_attempts=max_attempts,
            created_at=created_at if isinstance(created_at, str) else utc_now(),
            unserved_since=unserved_since if isinstance(unserved_since, str) else None,
            first_failed_at=first_failed_at if isinstance(first_failed_at, str) else None,
            priority=priority,
            headers=headers,
            limit=JobLimit.from_wire(data),
            run_at=run_at if isinstance(run_at, str) else None,
        )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
