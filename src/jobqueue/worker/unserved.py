"""Jobs of a type this worker has no handler for: hand them on, wait for a worker, or give up.

A worker never spends an attempt on a job it cannot run. It puts the job back on the broker,
attempts unchanged, for a later delivery:

- when some live worker serves the type (as the control plane's replies say), after a short
  random pause (``HAND_ON_DELAY_S``), so that the job reaches one of them without bouncing
  between workers that cannot run it in a hot loop;
- when none does, after ``WAIT_DELAY_S`` (a rolling deploy may bring one), stamping the job
  with when the wait began (``Job.unserved_since``, carried in the message, so every worker
  agrees on it);
- once no live worker has served the type for ``timeout_s``, it dead-letters the job as
  ``unknown_type``. A worker that has not heard from the control plane counts the type as
  served by nobody.
"""

from __future__ import annotations

import dataclasses
import random
import time
from datetime import UTC, datetime

from jobqueue.brokers import Death, DeathReason
from jobqueue.job import Job, iso_utc
from jobqueue.registry.fleet import ServedTypes
from jobqueue.worker.settle import DeadLetter, HandOn

__all__ = ["HAND_ON_DELAY_S", "UNSERVED_TIMEOUT_S", "WAIT_DELAY_S", "LogThrottle", "decide"]

UNSERVED_TIMEOUT_S = 600.0
HAND_ON_DELAY_S = (0.2, 1.0)
WAIT_DELAY_S = 5.0
LOG_EVERY_S = 60.0
LOG_MAX_TYPES = 1000


def decide(
    job: Job,
    fleet: ServedTypes | None,
    *,
    timeout_s: float,
    worker_id: str,
    now: datetime | None = None,
) -> HandOn | DeadLetter:
    """What to do with ``job``, whose type has no handler here, given what the fleet serves."""
    if fleet is not None and fleet.serves(job.type):
        delay_s = random.uniform(*HAND_ON_DELAY_S)
        return HandOn(dataclasses.replace(job, unserved_since=None), delay_s)
    now = now or datetime.now(UTC)
    since = _since(job.unserved_since) or now
    waited_s = (now - since).total_seconds()
    if waited_s >= timeout_s:
        return DeadLetter(_death(job, waited_s, worker_id))
    stamped = dataclasses.replace(job, unserved_since=iso_utc(since))
    return HandOn(stamped, min(WAIT_DELAY_S, timeout_s - waited_s))


def _death(job: Job, waited_s: float, worker_id: str) -> Death:
    error = f"no handler for job type {job.type!r}"
    if waited_s > 0:
        error += f" on any live worker for {waited_s:.0f}s"
    return Death(DeathReason.UNKNOWN_TYPE, error=error, attempts=job.attempts, worker_id=worker_id)


def _since(stamp: str | None) -> datetime | None:
    if stamp is None:
        return None
    try:
        since = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return since if since.tzinfo is not None else since.replace(tzinfo=UTC)


class LogThrottle:
    """Allows one log line per job type every ``every_s``: a waiting job comes back every 5 s."""

    def __init__(self, every_s: float = LOG_EVERY_S) -> None:
        self._every_s = every_s
        self._last: dict[str, float] = {}

    def allows(self, job_type: str) -> bool:
        """Whether a line about ``job_type`` may be logged now."""
        now = time.monotonic()
        last = self._last.get(job_type)
        if last is not None and now - last < self._every_s:
            return False
        if len(self._last) >= LOG_MAX_TYPES:  # types come from clients: keep the memory bounded
            self._last.clear()
        self._last[job_type] = now
        return True
