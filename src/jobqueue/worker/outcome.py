"""How a delivery ends, with the status events that must be durable before it is settled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jobqueue import codec
from jobqueue.brokers import DeathReason
from jobqueue.errors import JobqueueError
from jobqueue.job import Job
from jobqueue.store import events as ev
from jobqueue.worker import settle
from jobqueue.worker.settle import Ack, DeadLetter, RetryLater, Settlement
from jobqueue.worker.signals import FlightSignals, ProgressReport
from jobqueue.worker.status import StatusReporter


class InvalidResult(JobqueueError):
    """A handler returned something that cannot be stored: too large, or not JSON."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The settlement of a delivery and the events to commit before it (none when untracked)."""

    settlement: Settlement
    events: tuple[ev.JobEvent, ...] = ()


class Reporting:
    """Builds each outcome's events for a worker; with no status reporter, builds none."""

    def __init__(
        self, worker_id: str, status: StatusReporter | None, max_result_bytes: int
    ) -> None:
        self._worker_id = worker_id
        self._status = status
        self._max_result_bytes = max_result_bytes

    def signals(self, job: Job) -> FlightSignals:
        """The signals of a job about to run: progress goes to the status reporter."""
        report: ProgressReport | None = None
        status = self._status
        if status is not None:
            worker_id = self._worker_id

            def report(fraction: float, message: str | None) -> None:
                status.emit(ev.progress(job, worker_id, fraction, message))

        return FlightSignals(asyncio.get_running_loop(), report)

    def running(self, job: Job) -> None:
        """The handler is starting on ``job``."""
        if self._status is not None:
            self._status.emit(ev.running(job, self._worker_id))

    def succeeded(self, job: Job, result: Any) -> Outcome | InvalidResult:
        """The handler returned ``result``: ack with it, or the reason it cannot be stored."""
        if self._status is None:
            return Outcome(Ack())
        try:
            stored = self._storable(result)
        except InvalidResult as exc:
            return exc
        return Outcome(Ack(), (ev.succeeded(job, self._worker_id, stored),))

    def failed(self, job: Job, decided: RetryLater | DeadLetter, exc: BaseException) -> Outcome:
        """The attempt failed with ``exc``; ``decided`` is what becomes of the job."""
        if self._status is None:
            return Outcome(decided)
        error = settle.describe(exc)
        failed = ev.failed_attempt(job, self._worker_id, error)
        if isinstance(decided, RetryLater):
            next_at = ev.utc_now() + timedelta(seconds=decided.delay_s)
            then = ev.retrying(job, self._worker_id, next_at, error)
        else:
            then = ev.dead(job, self._worker_id, decided.death.reason, error)
        return Outcome(decided, (failed, then))

    def unknown_type(self, job: Job, decided: DeadLetter) -> Outcome:
        """No handler for the job's type: dead at once, no attempt made."""
        if self._status is None:
            return Outcome(decided)
        dead = ev.dead(job, self._worker_id, DeathReason.UNKNOWN_TYPE, decided.death.error)
        return Outcome(decided, (dead,))

    def cancelled(self, job: Job, reason: str) -> Outcome:
        """The job was cancelled: ack it, not retried."""
        if self._status is None:
            return Outcome(Ack())
        return Outcome(Ack(), (ev.cancelled(job, self._worker_id, reason),))

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


def _is_small_int(value: Any) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63
