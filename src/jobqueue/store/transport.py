"""Carrying workers' events through the broker: the events queue, and a batch as one message.

Workers never reach the store. They publish their lifecycle events, in batches, to the queue
``{queue}.events`` of the broker they take jobs from; the API consumes that queue and applies
each batch to the store. A batch travels as an ordinary job message (type ``jobqueue.events``,
the events' wire form as its payload), so every broker carries it with the same guarantees as
a job: confirmed publish, ack after the batch is applied, redelivery if the consumer dies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jobqueue.errors import DecodeError
from jobqueue.job import Job
from jobqueue.store.events import JobEvent

log = logging.getLogger("jobqueue.store")

StatusEvent = JobEvent | Mapping[str, Any]
"""An event to carry: a :class:`JobEvent`, or its wire form (``JobEvent.to_wire``) already."""

EVENTS_JOB_TYPE = "jobqueue.events"
EVENTS_QUEUE_SUFFIX = ".events"
# The events queue's messages are never poison for a reason that a redelivery fixes, but a
# store outage or API restarts hand them back many times: never dead-letter them for that.
EVENTS_MAX_REDELIVERIES = 1000


def events_queue(queue: str) -> str:
    """The queue that carries the events of the jobs of ``queue``."""
    return f"{queue}{EVENTS_QUEUE_SUFFIX}"


def batch_message(events: Sequence[StatusEvent]) -> Job:
    """One message carrying ``events``."""
    wires = [event.to_wire() if isinstance(event, JobEvent) else event for event in events]
    return Job(type=EVENTS_JOB_TYPE, payload=wires, max_attempts=1)


def batch_events(body: bytes) -> list[JobEvent]:
    """The events a message carries; :class:`DecodeError` when it is not an events batch.

    An event of the batch that cannot be parsed is left out (and logged): the others still
    count.
    """
    job = Job.decode(body)
    if job.type != EVENTS_JOB_TYPE:
        raise DecodeError(f"not an events batch: job type {job.type!r}")
    if not isinstance(job.payload, list):
        raise DecodeError("an events batch's payload is not an array")
    events = []
    for wire in job.payload:
        try:
            if not isinstance(wire, dict):
                raise DecodeError("not a JSON object")
            events.append(JobEvent.from_wire(wire))
        except DecodeError as exc:
            log.warning("left out an event of batch %s: %s", job.id, exc)
    return events
