"""Settling a delivery: deciding between ack, retry, dead-letter and hand-back, and doing it."""

from __future__ import annotations

import dataclasses
import functools
import os
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from jobqueue import handlers as handlers_module
from jobqueue.brokers import Broker, Death, DeathReason, Delivery
from jobqueue.errors import Reject, Retry
from jobqueue.job import Job, utc_now
from jobqueue.worker.backoff import RetryPolicy

TRACEBACK_MAX_LINES = 20
TRACEBACK_MAX_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Ack:
    """The job succeeded: remove it."""


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Publish ``job`` (the next attempt) to run after ``delay_s``, then remove the original."""

    job: Job
    delay_s: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Move the message to the dead-letter queue, with why; as ``job`` when given (the job
    with its last attempt counted), else as it was delivered."""

    death: Death
    job: Job | None = None


@dataclass(frozen=True, slots=True)
class HandBack:
    """Give the delivery back unprocessed (shutdown), to be delivered again."""


@dataclass(frozen=True, slots=True)
class HandOn:
    """Put ``job`` back unrun, attempts unchanged, to be delivered after ``delay_s`` (to a
    worker that serves its type)."""

    job: Job
    delay_s: float


Settlement = Ack | RetryLater | DeadLetter | HandBack | HandOn


def after_failure(
    job: Job, max_attempts: int, exc: BaseException, policy: RetryPolicy, worker_id: str
) -> RetryLater | DeadLetter:
    """What becomes of a job whose handler raised ``exc`` on attempt ``job.attempts``.

    ``Reject`` dead-letters at once. Otherwise the job is retried while attempts remain (after
    the delay a ``Retry`` asks for, else after the policy's backoff), then dead-lettered.
    """
    failed = dataclasses.replace(
        job.next_attempt(), first_failed_at=job.first_failed_at or utc_now()
    )
    if isinstance(exc, Reject):
        return _dead(DeathReason.REJECTED, failed, exc, worker_id)
    if failed.attempts >= max_attempts:
        return _dead(DeathReason.MAX_ATTEMPTS, failed, exc, worker_id)
    if isinstance(exc, Retry) and isinstance(exc.delay_s, int | float):
        return RetryLater(failed, max(0.0, float(exc.delay_s)))
    return RetryLater(failed, policy.delay_s(job.attempts))


def undecodable(error: str, worker_id: str) -> DeadLetter:
    """Dead-letter a body that is not a job."""
    return DeadLetter(Death(DeathReason.UNDECODABLE, error=error, worker_id=worker_id))


def worn(death: Death, worker_id: str) -> DeadLetter:
    """Dead-letter a delivery the broker found worn out (``Delivery.death``), as it said."""
    return DeadLetter(dataclasses.replace(death, worker_id=worker_id))


def describe(exc: BaseException) -> str:
    """An exception as one line: ``ValueError: bad address``."""
    try:
        message = str(exc)
    except Exception:  # a handler's exception may be broken; its failure must still be told
        message = "<message could not be read>"
    return f"{type(exc).__name__}: {message}"


def short_traceback(exc: BaseException) -> str:
    """The end of the exception's traceback from the handler's own first frame on (the
    worker's frames and the standard library's that call it left out): its last lines, at
    most 4 KB of text."""
    formatted = traceback.format_exception(type(exc), exc, _from_user_frame(exc.__traceback__))
    lines = "".join(formatted).splitlines()
    return "\n".join(lines[-TRACEBACK_MAX_LINES:])[-TRACEBACK_MAX_CHARS:]


_MACHINERY = (
    str(Path(__file__).resolve().parent) + os.sep,  # jobqueue/worker/
    str(Path(handlers_module.__file__).resolve()),
    str(Path(sysconfig.get_paths()["stdlib"]).resolve()) + os.sep,
)


def _from_user_frame(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from its first frame outside the machinery that calls handlers."""
    while tb is not None and _is_machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


@functools.lru_cache(maxsize=256)
def _is_machinery(filename: str) -> bool:
    resolved = str(Path(filename).resolve())
    return any(resolved.startswith(place) or resolved == place for place in _MACHINERY)


def _dead(reason: str, failed: Job, exc: BaseException, worker_id: str) -> DeadLetter:
    """Dead-letter ``failed`` (the job with its last attempt counted)."""
    death = Death(
        reason=reason,
        error=describe(exc),
        traceback=short_traceback(exc),
        attempts=failed.attempts,
        worker_id=worker_id,
        first_failed_at=failed.first_failed_at,
    )
    return DeadLetter(death, failed)


async def apply(broker: Broker, delivery: Delivery, settlement: Settlement) -> None:
    """Settle the delivery on the broker as decided."""
    match settlement:
        case Ack():
            await broker.ack(delivery)
        case RetryLater(job, delay_s) | HandOn(job, delay_s):
            await broker.retry(delivery, job, delay_s)
        case DeadLetter(death, job):
            await broker.dead_letter(delivery, death, job)
        case HandBack():
            await broker.release(delivery)
