"""How a delivery ends, with the status events that must be durable before it is settled."""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobqueue import codec
from jobqueue.errors import JobqueueError
from jobqueue.job import Job
from jobqueue.store.events import EventKind, parse_time, to_iso
from jobqueue.store.transport import StatusEvent
from jobqueue.worker import settle
from jobqueue.worker.clock import utc_iso_now
from jobqueue.worker.settle import Ack, DeadLetter, HandOn, RetryLater, Settlement
from jobqueue.worker.signals import FlightSignals, ProgressReport
from jobqueue.worker.status import StatusReporter

_WIRE_KIND = {kind: kind.value for kind in EventKind}
"""Each kind as the plain string the wire carries (a dict look-up beats an enum's ``value``)."""


class InvalidResult(JobqueueError):
    """A handler returned something that cannot be stored: too large, or not JSON."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The settlement of a delivery and the events to commit before it (none when untracked)."""

    settlement: Settlement
    events: tuple[StatusEvent, ...] = ()


class Reporting:
    """Builds each outcome's events for a worker; with no status reporter, builds none.

    The events are built in their wire form directly (the form ``JobEvent.to_wire`` gives), on
    the worker's hot path; their ids are a random prefix of this worker and a counter. An
    attempt's ``succeeded`` or ``failed_attempt`` event carries how long the handler ran
    (``run_s``), for the run time histograms.
    """

    def __init__(
        self, worker_id: str, status: StatusReporter | None, max_result_bytes: int
    ) -> None:
        self._worker_id = worker_id
        self._status = status
        self._max_result_bytes = max_result_bytes
        self._id_prefix = uuid.uuid4().hex
        self._ids = itertools.count()
        self._started: dict[str, float] = {}  # job id → when its handler started (monotonic)

    def _event(self, job: Job, kind: EventKind, data: dict[str, Any]) -> dict[str, Any]:
        """The wire form of an event about ``job``'s current attempt, stamped now."""
        return {
            "event_id": f"{self._id_prefix}-{next(self._ids):x}",
            "job_id": job.id,
            "kind": _WIRE_KIND[kind],
            "attempt": job.attempts,
            "at": utc_iso_now(),
            "job_type": job.type,
            "worker_id": self._worker_id,
            "data": data,
            "max_attempts": job.max_attempts,
            "created_at": _checked_time(job.created_at),
        }

    def signals(self, job: Job) -> FlightSignals:
        """The signals of a job about to run: progress goes to the status reporter."""
        report: ProgressReport | None = None
        status = self._status
        if status is not None:

            def report(fraction: float, message: str | None) -> None:
                data = {"fraction": fraction, "message": message}
                status.emit(self._event(job, EventKind.PROGRESS, data))

        return FlightSignals(asyncio.get_running_loop(), report)

    def running(self, job: Job, max_attempts: int) -> None:
        """The handler is starting on ``job``, whose limit in force is ``max_attempts`` (its
        own, else its handler's): the store shows that limit from then on."""
        if self._status is not None:
            event = self._event(job, EventKind.RUNNING, {})
            event["max_attempts"] = max_attempts
            self._status.emit(event)
            self._started[job.id] = time.monotonic()

    def _run_s(self, job: Job) -> float:
        """How long ``job``'s handler ran (0 when its start was not seen)."""
        started = self._started.pop(job.id, None)
        return 0.0 if started is None else round(time.monotonic() - started, 6)

    def succeeded(self, job: Job, result: Any) -> Outcome | InvalidResult:
        """The handler returned ``result``: ack with it, or the reason it cannot be stored."""
        if self._status is None:
            return Outcome(Ack())
        try:
            stored = self._storable(result)
        except InvalidResult as exc:
            return exc
        data = {"result": stored, "run_s": self._run_s(job)}
        return Outcome(Ack(), (self._event(job, EventKind.SUCCEEDED, data),))

    def failed(self, job: Job, decided: RetryLater | DeadLetter, exc: BaseException) -> Outcome:
        """The attempt failed with ``exc``; ``decided`` is what becomes of the job."""
        if self._status is None:
            return Outcome(decided)
        error = settle.describe(exc)
        failed = self._event(
            job, EventKind.FAILED_ATTEMPT, {"error": error, "run_s": self._run_s(job)}
        )
        if isinstance(decided, RetryLater):
            next_at = datetime.now(UTC) + timedelta(seconds=decided.delay_s)
            data = {"next_attempt_at": to_iso(next_at), "error": error}
            then = self._event(job, EventKind.RETRYING, data)
        else:
            data = {"reason": decided.death.reason, "error": error}
            then = self._event(job, EventKind.DEAD, data)
        return Outcome(decided, (failed, then))

    def waiting(self, job: Job, reason: str, delay_s: float) -> Outcome:
        """Deferred by a limit: put back unrun, attempts unchanged, to be delivered after
        ``delay_s``. A job's first deferral writes its ``waiting`` event (the store shows the
        state with the reason, and counts the job deferred once); the later ones write none,
        since each event costs a durable write before the job goes back, and the state stays
        ``waiting`` until the job runs."""
        if self._status is None or (job.limit is not None and job.limit.deferrals > 1):
            return Outcome(HandOn(job, delay_s))
        next_at = to_iso(datetime.now(UTC) + timedelta(seconds=delay_s))
        data = {"reason": reason, "next_attempt_at": next_at}
        return Outcome(HandOn(job, delay_s), (self._event(job, EventKind.WAITING, data),))

    def dead_unrun(self, job: Job, decided: DeadLetter) -> Outcome:
        """Dead without running (no handler for its type, or it keeps killing its workers)."""
        if self._status is None:
            return Outcome(decided)
        data = {"reason": decided.death.reason, "error": decided.death.error}
        return Outcome(decided, (self._event(job, EventKind.DEAD, data),))

    def cancelled(self, job: Job, reason: str) -> Outcome:
        """The job was cancelled: ack it, not retried."""
        if self._status is None:
            return Outcome(Ack())
        self._started.pop(job.id, None)
        return Outcome(Ack(), (self._event(job, EventKind.CANCELLED, {"reason": reason}),))

    def _storable(self, result: Any) -> Any:
        """``result`` as plain JSON, within the size limit; :class:`InvalidResult` otherwise."""
        if result is None or isinstance(result, bool) or _is_small_int(result):
            return result
        try:
            encoded = codec.dumps(result)
            plain = codec.loads(encoded)
        except (TypeError, ValueError) as exc:
            raise InvalidResult(f"result is not JSON-serialisable: {exc}") from None
        if len(encoded) > self._max_result_bytes:
            raise InvalidResult(
                f"result too large ({len(encoded)} bytes > {self._max_result_bytes})"
            )
        return plain


@functools.lru_cache(maxsize=4096)
def _checked_time(text: str) -> str | None:
    """A job's ``created_at`` if it is a timestamp the store can read, else None (a job from
    elsewhere may carry anything there). Cached: each job's two or more events ask."""
    try:
        parse_time(text)
    except ValueError:
        return None
    return text


def _is_small_int(value: Any) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63
