"""What a submission asks for: a job's type and payload, and the options ``POST /jobs`` takes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from jobqueue.job import iso_utc


class JobOptions(TypedDict, total=False):
    """The options of a submission, each as ``POST /jobs`` names it (see :class:`JobSpec`)."""

    max_attempts: int
    priority: int
    delay_s: float
    run_at: datetime | str
    unique_key: str
    unique_for_s: float
    unique_while: Literal["queued", "running"]
    concurrency_key: str
    concurrency: int
    rate: str | float
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to submit.

    ``max_attempts``: attempts before the dead-letter queue (else its handler's); ``priority``
    0 to 9, higher first; ``delay_s`` or ``run_at`` (an aware ``datetime``, or RFC 3339 text
    with its offset) to run it later; ``unique_key`` with ``unique_for_s`` or ``unique_while``
    for one job per key; ``concurrency_key``, ``concurrency`` and ``rate`` (``"10/s"``) to
    limit it across the fleet. ``idempotency_key`` is made (a UUID) when not given: the same
    key on every try makes a retried submission answer its first job instead of a second one.
    """

    type: str
    payload: Any = field(default_factory=dict)
    max_attempts: int | None = None
    priority: int | None = None
    delay_s: float | None = None
    run_at: datetime | str | None = None
    unique_key: str | None = None
    unique_for_s: float | None = None
    unique_while: Literal["queued", "running"] | None = None
    concurrency_key: str | None = None
    concurrency: int | None = None
    rate: str | float | None = None
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_wire(self) -> dict[str, Any]:
        """The job's JSON body, without its idempotency key and the options not given."""
        wire: dict[str, Any] = {"type": self.type, "payload": self.payload}
        options = {
            "max_attempts": self.max_attempts,
            "priority": self.priority,
            "delay_s": self.delay_s,
            "run_at": rfc3339(self.run_at, "run_at"),
            "unique_key": self.unique_key,
            "unique_for_s": self.unique_for_s,
            "unique_while": self.unique_while,
            "concurrency_key": self.concurrency_key,
            "concurrency": self.concurrency,
            "rate": self.rate,
        }
        wire.update((name, value) for name, value in options.items() if value is not None)
        return wire


def job_spec(job_type: str, payload: Any, options: JobOptions) -> JobSpec:
    """The spec of ``submit(job_type, payload, **options)``; a payload of None sends ``{}``."""
    return JobSpec(job_type, {} if payload is None else payload, **options)


def rfc3339(moment: datetime | str | None, name: str) -> str | None:
    """A time as RFC 3339 text for the API; a ``datetime`` must say its zone."""
    if moment is None or isinstance(moment, str):
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name}: give a datetime with its time zone (tzinfo), got {moment}")
    return iso_utc(moment)
