"""The job a log line is about: its id, type and attempt, the worker, the trace.

The worker sets :data:`CURRENT_JOB` in the task that processes a delivery, once the job is
decoded; every line logged from that task (the worker's per-job lines, a handler's own, the
broker's about settling it) then carries the job's fields in the JSON format.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from opentelemetry import trace

from jobqueue.job import Job
from jobqueue.telemetry import propagation

CURRENT_JOB: ContextVar[tuple[Job, str] | None] = ContextVar("jobqueue_job", default=None)
"""The job being processed in this task, and the id of the worker processing it."""


def job_fields() -> dict[str, Any]:
    """The fields of the job at hand (none outside a job), with the current trace id."""
    fields: dict[str, Any] = {}
    current = CURRENT_JOB.get()
    if current is not None:
        job, worker_id = current
        fields = {"job_id": job.id, "type": job.type, "attempt": job.attempts}
        fields["worker_id"] = worker_id
    trace_id = current_trace_id(None if current is None else current[0])
    if trace_id is not None:
        fields["trace_id"] = trace_id
    return fields


def current_trace_id(job: Job | None) -> str | None:
    """The trace id of the current span, else of the job's ``traceparent``, as 32 hex digits."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return trace.format_trace_id(context.trace_id)
    return None if job is None else propagation.trace_id(job.headers)
