"""Lifecycle events from workers and the pure, idempotent rules that fold them into a job's state.

Every event has a *position* in its job's life: ``rank = attempt * 8 + phase``, where within one
attempt ``waiting (0) < running (1) < progress (2) < failed_attempt (3) < retrying (4)``, a queued
job has rank 0 (a ``waiting`` job, deferred by a limit before its attempt ran, follows it by
time), and the terminal kinds (``succeeded``, ``dead``, ``cancelled``) share :data:`TERMINAL_RANK`,
above everything. Ties between equal ranks are broken by the event's timestamp ``at``.

:func:`merge` folds one event's view into a job's :class:`Tracked` state. Each group of fields
follows its own key, so that the fold gives the same answer whatever order the events arrive in
and however often each arrives:

- state, rank, worker, result, finish time, next attempt time: from the event with the highest
  ``(rank, at)`` — except that a terminal state is never left (the first terminal applied wins);
- attempts: the most attempts started (``attempt + 1`` for a kind that runs the handler);
- error: from the error-carrying event with the highest ``(rank, at)`` (see :func:`event_error`);
- progress: from the progress event with the highest ``(attempt, at)``, and only while it belongs
  to the newest attempt started (a new attempt starts with no progress);
- started_at: the earliest ``running``; updated_at: the latest ``at`` seen.

The SQL stores apply exactly this merge in one ``INSERT ... ON CONFLICT DO UPDATE`` (see
``jobqueue.store.merge``); this module is the reference the tests compare them with.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobqueue import codec
from jobqueue.errors import DecodeError
from jobqueue.job import Job, JobState

PHASES_PER_ATTEMPT = 8
QUEUED_RANK = 0
TERMINAL_RANK = 1 << 62
MAX_ATTEMPT = 1 << 40


class EventKind(enum.StrEnum):
    """What happened to a job. Workers send the first seven; the store writes the last five."""

    RUNNING = "running"
    PROGRESS = "progress"
    FAILED_ATTEMPT = "failed_attempt"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"
    WAITING = "waiting"  # from a worker too: deferred by a limit, not run, no attempt counted
    QUEUED = "queued"
    CANCEL_REQUESTED = "cancel_requested"
    REQUEUED = "requeued"
    SCHEDULED = "scheduled"  # a delayed job recorded to wait for its run_at


_PHASE = {
    EventKind.WAITING: 0,
    EventKind.RUNNING: 1,
    EventKind.PROGRESS: 2,
    EventKind.FAILED_ATTEMPT: 3,
    EventKind.RETRYING: 4,
}
TERMINAL_KINDS = frozenset({EventKind.SUCCEEDED, EventKind.DEAD, EventKind.CANCELLED})
WORKER_KINDS = frozenset(_PHASE) | TERMINAL_KINDS
# Kinds in which the handler ran: each counts as an attempt started.
_RUN_KINDS = (frozenset(_PHASE) - {EventKind.WAITING}) | {EventKind.SUCCEEDED}
_STATE = {
    EventKind.WAITING: JobState.WAITING,
    EventKind.RUNNING: JobState.RUNNING,
    EventKind.PROGRESS: JobState.RUNNING,
    EventKind.FAILED_ATTEMPT: JobState.RUNNING,
    EventKind.RETRYING: JobState.RETRYING,
    EventKind.SUCCEEDED: JobState.SUCCEEDED,
    EventKind.DEAD: JobState.DEAD,
    EventKind.CANCELLED: JobState.CANCELLED,
}
FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a ``Z``: the wire form of every store timestamp."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; one without a zone is taken as UTC. Raises ValueError."""
    try:
        moment = datetime.fromisoformat(text)  # the wire form (``to_iso``) parses as is
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def new_event_id() -> str:
    """A fresh, unique event id."""
    return uuid.uuid4().hex


def rank(kind: EventKind, attempt: int) -> int:
    """The position of an event of ``kind`` in attempt ``attempt`` (see the module docstring)."""
    if kind in TERMINAL_KINDS:
        return TERMINAL_RANK
    return attempt * PHASES_PER_ATTEMPT + _PHASE.get(kind, 0)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One thing that happened to a job, as a worker (or the store) reports it.

    ``event_id`` is unique per event so a duplicate is recognised; ``attempt`` is the index of
    the attempt (the job's ``attempts`` when it was delivered). ``job_type``, ``max_attempts``
    and ``created_at`` let the store create the job's record from the event alone when it never
    saw the job submitted. ``data`` depends on ``kind``: ``progress`` → ``fraction`` and
    ``message``; ``retrying`` → ``next_attempt_at`` (ISO 8601) and optionally ``error``;
    ``succeeded`` → ``result``; ``failed_attempt`` → ``error``; ``dead`` → ``reason`` and
    ``error``; ``cancelled`` → ``reason``.
    """

    event_id: str
    job_id: str
    kind: EventKind
    attempt: int
    at: datetime
    job_type: str
    worker_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    max_attempts: int | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            object.__setattr__(self, "kind", EventKind(self.kind))
        if not 0 <= self.attempt < MAX_ATTEMPT:
            raise ValueError(f"event attempt {self.attempt} is out of range")
        if self.at.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        _check_data(self.kind, self.data)

    @property
    def rank(self) -> int:
        """This event's position in its job's life."""
        return rank(self.kind, self.attempt)

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON object (timestamps as ISO 8601 strings)."""
        return {
            "event_id": self.event_id,
            "job_id": self.job_id,
            "kind": self.kind.value,
            "attempt": self.attempt,
            "at": to_iso(self.at),
            "job_type": self.job_type,
            "worker_id": self.worker_id,
            "data": dict(self.data),
            "max_attempts": self.max_attempts,
            "created_at": to_iso(self.created_at) if self.created_at else None,
        }

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> JobEvent:
        """Parse :meth:`to_wire`'s form; raises :class:`DecodeError` naming what is wrong."""
        try:
            created_at = wire.get("created_at")
            event = cls(
                event_id=_text(wire, "event_id"),
                job_id=_text(wire, "job_id"),
                kind=EventKind(wire["kind"]),
                attempt=int(wire["attempt"]),
                at=parse_time(wire["at"]),
                job_type=_text(wire, "job_type"),
                worker_id=wire.get("worker_id"),
                data=dict(wire.get("data") or {}),
                max_attempts=wire.get("max_attempts"),
                created_at=parse_time(created_at) if created_at else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"not a job event: {exc!r}") from None
        return event


def _check_data(kind: EventKind, data: Mapping[str, Any]) -> None:
    """Refuse the data an event of ``kind`` could not be applied with."""
    if kind is EventKind.PROGRESS:
        fraction = data.get("fraction")
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError("a progress event needs a numeric 'fraction'")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress fraction {fraction} is not between 0 and 1")
        if not isinstance(data.get("message"), str | None):
            raise ValueError("a progress event's 'message' must be text")
    next_attempt_at = data.get("next_attempt_at")
    if kind is EventKind.RETRYING and next_attempt_at is not None:
        if not isinstance(next_attempt_at, str):
            raise ValueError("'next_attempt_at' must be an ISO 8601 string")
        parse_time(next_attempt_at)


def _text(wire: Mapping[str, Any], name: str) -> str:
    value = wire[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} is not a non-empty string")
    return value


def encode_events(events: Iterable[JobEvent]) -> bytes:
    """A batch of events as one JSON array (to carry through the broker)."""
    return codec.dumps([event.to_wire() for event in events])


def decode_events(body: bytes) -> list[JobEvent]:
    """Parse :func:`encode_events`' output; raises :class:`DecodeError`."""
    try:
        wires = codec.loads(body)
    except ValueError as exc:
        raise DecodeError(f"events are not valid JSON: {exc}") from None
    if not isinstance(wires, list) or not all(isinstance(wire, dict) for wire in wires):
        raise DecodeError("events are not a JSON array of objects")
    return [JobEvent.from_wire(wire) for wire in wires]


def job_event(
    job: Job,
    kind: EventKind,
    worker_id: str | None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> JobEvent:
    """An event about ``job`` (its current attempt) with a fresh id, stamped now."""
    try:
        created_at: datetime | None = parse_time(job.created_at)
    except ValueError:
        created_at = None
    return JobEvent(
        event_id=new_event_id(),
        job_id=job.id,
        kind=kind,
        attempt=job.attempts,
        at=at or utc_now(),
        job_type=job.type,
        worker_id=worker_id,
        data=dict(data or {}),
        max_attempts=job.max_attempts,
        created_at=created_at,
    )


def running(job: Job, worker_id: str) -> JobEvent:
    """The worker started the handler on ``job``."""
    return job_event(job, EventKind.RUNNING, worker_id)


def progress(job: Job, worker_id: str, fraction: float, message: str | None = None) -> JobEvent:
    """The handler reported progress: ``fraction`` in 0..1 and an optional message."""
    return job_event(job, EventKind.PROGRESS, worker_id, {"fraction": fraction, "message": message})


def failed_attempt(job: Job, worker_id: str, error: str) -> JobEvent:
    """The attempt failed with ``error`` (sent for every failed run, the last one included)."""
    return job_event(job, EventKind.FAILED_ATTEMPT, worker_id, {"error": error})


def retrying(
    job: Job, worker_id: str, next_attempt_at: datetime, error: str | None = None
) -> JobEvent:
    """The next attempt is scheduled for ``next_attempt_at``."""
    data = {"next_attempt_at": to_iso(next_attempt_at), "error": error}
    return job_event(job, EventKind.RETRYING, worker_id, data)


def succeeded(job: Job, worker_id: str, result: Any) -> JobEvent:
    """The handler returned ``result`` (JSON)."""
    return job_event(job, EventKind.SUCCEEDED, worker_id, {"result": result})


def dead(job: Job, worker_id: str | None, reason: str, error: str | None = None) -> JobEvent:
    """The job was dead-lettered for ``reason`` (a ``DeathReason``)."""
    return job_event(job, EventKind.DEAD, worker_id, {"reason": reason, "error": error})


def cancelled(job: Job, worker_id: str | None, reason: str = "requested") -> JobEvent:
    """The job was cancelled (skipped before it ran, or stopped on request)."""
    return job_event(job, EventKind.CANCELLED, worker_id, {"reason": reason})


@dataclass(slots=True)
class Tracked:
    """The part of a job's record that events decide, with the keys the merge compares.

    A value: never changed once made (:func:`merge` makes a new one). It is not a frozen
    dataclass only because those take twice as long to construct, and the store folds every
    event of every job through here.
    """

    state: JobState
    rank: int
    rank_at: datetime
    attempts: int
    updated_at: datetime
    worker_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    result: Any = None
    progress: float | None = None
    progress_message: str | None = None
    progress_attempt: int | None = None
    progress_at: datetime | None = None
    error: str | None = None
    error_rank: int | None = None
    error_at: datetime | None = None
    waiting_reason: str | None = None


def queued(at: datetime, attempts: int = 0) -> Tracked:
    """The state of a job just submitted (or requeued) at ``at``."""
    return Tracked(
        state=JobState.QUEUED, rank=QUEUED_RANK, rank_at=at, attempts=attempts, updated_at=at
    )


def initial(event: JobEvent) -> Tracked:
    """The state that ``event`` alone implies: what a record created from it holds."""
    if event.kind not in WORKER_KINDS:
        raise ValueError(f"{event.kind.value!r} events are written by the store, not applied")
    error = event_error(event)
    is_progress = event.kind is EventKind.PROGRESS
    return Tracked(
        state=_STATE[event.kind],
        rank=event.rank,
        rank_at=event.at,
        attempts=event.attempt + 1 if event.kind in _RUN_KINDS else event.attempt,
        updated_at=event.at,
        worker_id=event.worker_id,
        started_at=event.at if event.kind is EventKind.RUNNING else None,
        finished_at=event.at if event.kind in TERMINAL_KINDS else None,
        next_attempt_at=_next_attempt_at(event),
        result=event.data.get("result") if event.kind is EventKind.SUCCEEDED else None,
        progress=float(event.data["fraction"]) if is_progress else None,
        progress_message=event.data.get("message") if is_progress else None,
        progress_attempt=event.attempt if is_progress else None,
        progress_at=event.at if is_progress else None,
        error=error[0] if error else None,
        error_rank=error[1] if error else None,
        error_at=event.at if error else None,
        waiting_reason=_waiting_reason(event),
    )


def _waiting_reason(event: JobEvent) -> str | None:
    reason = event.data.get("reason") if event.kind is EventKind.WAITING else None
    return None if reason is None else str(reason)


def event_error(event: JobEvent) -> tuple[str, int] | None:
    """The error text an event carries, with the rank it competes at; None when it has none.

    A failed attempt's (or a death's) ``error`` competes at the event's rank. A death that
    carries only its ``reason`` competes below any error of its attempt, so ``max_attempts``
    never hides the error that exhausted them but ``unknown_type`` still shows.
    """
    if event.kind not in (EventKind.FAILED_ATTEMPT, EventKind.RETRYING, EventKind.DEAD):
        return None
    error = event.data.get("error")
    if error is not None:
        return str(error), event.rank
    reason = event.data.get("reason") if event.kind is EventKind.DEAD else None
    return None if reason is None else (str(reason), event.attempt * PHASES_PER_ATTEMPT)


def _next_attempt_at(event: JobEvent) -> datetime | None:
    timed = event.kind is EventKind.RETRYING or event.kind is EventKind.WAITING
    text = event.data.get("next_attempt_at") if timed else None
    return parse_time(text) if isinstance(text, str) else None


def supersedes(new: Tracked, old: Tracked) -> bool:
    """Whether ``new`` decides the state over ``old``: later position, and ``old`` not final."""
    if old.rank >= TERMINAL_RANK:
        return False
    return (new.rank, new.rank_at) > (old.rank, old.rank_at)


def merge(old: Tracked, new: Tracked) -> Tracked:
    """Fold ``new`` (one event's :func:`initial` state) into ``old``; see the module docstring."""
    main = new if supersedes(new, old) else old
    attempts = max(old.attempts, new.attempts)
    shown = _progress_source(old, new)
    # Progress is shown only while it belongs to the newest attempt started.
    current = shown.progress_attempt is not None and shown.progress_attempt + 1 >= attempts
    failed = new if _error_newer(new, old) else old
    return Tracked(
        state=main.state,
        rank=main.rank,
        rank_at=main.rank_at,
        attempts=attempts,
        updated_at=max(old.updated_at, new.updated_at),
        worker_id=old.worker_id if main is old or new.worker_id is None else new.worker_id,
        started_at=_earliest(old.started_at, new.started_at),
        finished_at=main.finished_at,
        next_attempt_at=main.next_attempt_at,
        result=main.result,
        progress=shown.progress if current else None,
        progress_message=shown.progress_message if current else None,
        progress_attempt=shown.progress_attempt if current else None,
        progress_at=shown.progress_at if current else None,
        error=failed.error,
        error_rank=failed.error_rank,
        error_at=failed.error_at,
        waiting_reason=main.waiting_reason,
    )


def _progress_source(old: Tracked, new: Tracked) -> Tracked:
    if new.progress_attempt is None or new.progress_at is None:
        return old
    if old.progress_attempt is None or old.progress_at is None:
        return new
    newer = (new.progress_attempt, new.progress_at) > (old.progress_attempt, old.progress_at)
    return new if newer else old


def _error_newer(new: Tracked, old: Tracked) -> bool:
    if new.error_rank is None or new.error_at is None:
        return False
    if old.error_rank is None or old.error_at is None:
        return True
    return (new.error_rank, new.error_at) > (old.error_rank, old.error_at)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def fold(events: Iterable[JobEvent], start: Tracked | None = None) -> Tracked | None:
    """Apply ``events`` in the order given, ignoring repeated event ids; None for no events."""
    state, seen = start, set[str]()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        state = initial(event) if state is None else merge(state, initial(event))
    return state
