"""The worker's spans (run, settle) and the helpers the API's spans share with them.

The worker's run of a job (``process {queue}``) is a child of the context its message's
headers carry, the API's submit span (:mod:`.submit_spans`), each attempt alike: a retry keeps
the headers. Its settlement (``ack {queue}``, ``retry {queue}``, ``dead_letter {queue}``, ...)
is a child of the run. Built only when tracing is on: with it off, the worker holds None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

import jobqueue
from jobqueue.brokers import Delivery
from jobqueue.job import Job
from jobqueue.telemetry import attributes as attr
from jobqueue.telemetry import propagation

if TYPE_CHECKING:
    from jobqueue.worker.outcome import Outcome
    from jobqueue.worker.settle import Settlement

_RUN: ContextVar[tuple[Span, Job] | None] = ContextVar("jobqueue_run_span", default=None)
"""The run span of the delivery the current task processes, and its job: the settle span's
parent (each delivery is processed in a task of its own)."""

_OPERATIONS = {
    "Ack": "ack",
    "RetryLater": "retry",
    "DeadLetter": "dead_letter",
    "HandBack": "release",
    "HandOn": "hand_on",
}
"""Each settlement's operation name, by the settlement's class name."""


def tracer(provider: trace.TracerProvider) -> trace.Tracer:
    """jobqueue's tracer of ``provider``."""
    return provider.get_tracer("jobqueue", jobqueue.__version__)


def job_attributes(job: Job) -> dict[str, AttributeValue]:
    """The attributes naming one job: its id, type and attempt."""
    return {
        attr.MESSAGING_MESSAGE_ID: job.id,
        attr.JOB_TYPE: job.type,
        attr.JOB_ATTEMPT: job.attempts,
    }


def describe(span: Span, jobs: Sequence[Job]) -> None:
    """Name the submitted jobs on ``span``: the job itself, or a batch's size."""
    if len(jobs) == 1:
        span.set_attributes(job_attributes(jobs[0]))
    else:
        span.set_attribute(attr.MESSAGING_BATCH_COUNT, len(jobs))


def failed(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``: its type, and status ERROR (the message may name the
    deployment, so it is left out)."""
    span.set_attribute(attr.ERROR_TYPE, type(exc).__name__)
    span.set_status(StatusCode.ERROR)


def worker_tracing(
    provider: trace.TracerProvider | None, queue: str, worker_id: str
) -> WorkerTracing | None:
    """The worker's spans over ``queue`` with ``provider``; None (no tracing) without one."""
    return None if provider is None else WorkerTracing(provider, queue, worker_id)


class WorkerTracing:
    """The worker's spans over the queue ``queue``: each run of a job, each settlement."""

    def __init__(self, provider: trace.TracerProvider, queue: str, worker_id: str) -> None:
        self._tracer = tracer(provider)
        self._queue = queue
        self._common: dict[str, AttributeValue] = {
            attr.MESSAGING_SYSTEM: attr.SYSTEM,
            attr.MESSAGING_DESTINATION: queue,
            attr.WORKER_ID: worker_id,
        }

    async def run(self, delivery: Delivery, job: Job, running: Awaitable[Outcome]) -> Outcome:
        """Await ``running`` (the handler's run of ``job``) inside a run span, a child of the
        context the delivery's headers carry."""
        span = self._tracer.start_span(
            f"process {self._queue}",
            context=propagation.extract(delivery.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                **self._common,
                **job_attributes(job),
                attr.MESSAGING_OPERATION_TYPE: "process",
            },
        )
        _RUN.set((span, job))
        with trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                outcome = await running
            except BaseException as exc:
                failed(span, exc)
                raise
            _judge(span, outcome.settlement)
            return outcome

    async def settle(
        self, delivery: Delivery, settlement: Settlement, settling: Awaitable[None]
    ) -> None:
        """Await ``settling`` (the broker's ack, retry, dead letter, ...) inside a settle span,
        a child of the run span (or, for a delivery that never ran, of its headers' context)."""
        operation = _OPERATIONS.get(type(settlement).__name__, "settle")
        run = _RUN.get()
        parent = propagation.extract(delivery.headers) if run is None else _context_of(run[0])
        attributes = {
            **self._common,
            attr.MESSAGING_OPERATION_TYPE: "settle",
            attr.MESSAGING_OPERATION_NAME: operation,
            attr.MESSAGING_MESSAGE_ID: delivery.message_id,
            **_settlement_attributes(settlement, None if run is None else run[1]),
        }
        with self._tracer.start_as_current_span(
            f"{operation} {self._queue}",
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                await settling
            except BaseException as exc:
                failed(span, exc)
                raise


def _context_of(span: Span) -> Context:
    return trace.set_span_in_context(span, Context())


def _judge(span: Span, settlement: Settlement) -> None:
    """Mark the run span with what became of the attempt; a failed one is an error."""
    operation = _OPERATIONS.get(type(settlement).__name__, "settle")
    span.set_attribute(attr.JOB_OUTCOME, operation)
    if operation == "retry":
        span.set_status(StatusCode.ERROR, "attempt failed; retrying")
    elif operation == "dead_letter":
        death = getattr(settlement, "death", None)
        span.set_status(StatusCode.ERROR, f"dead-lettered: {getattr(death, 'reason', '')}")


def _settlement_attributes(settlement: Settlement, ran: Job | None) -> dict[str, AttributeValue]:
    """What a settlement says: the job it stores (or the one that ran), a delay, a reason."""
    job: Job | None = ran or getattr(settlement, "job", None)
    found: dict[str, AttributeValue] = {}
    if job is not None:
        found[attr.JOB_TYPE] = job.type
        found[attr.JOB_ATTEMPT] = job.attempts
    delay_s = getattr(settlement, "delay_s", None)
    if isinstance(delay_s, float | int):
        found[attr.RETRY_DELAY_S] = float(delay_s)
    death = getattr(settlement, "death", None)
    if death is not None:
        found[attr.DEAD_REASON] = str(death.reason)
    return found
