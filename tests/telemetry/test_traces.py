"""Traces along a job's path: a real API app and a real worker on one SQLite file, the spans in
memory. The run of a job is a child of its submission's span, in the caller's trace."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from jobqueue.brokers import Broker
from jobqueue.handlers import Handlers, JobContext
from tests.api.conftest import take_deliveries
from tests.brokers.rabbit import delete_queues, fresh_queue_name
from tests.services import RABBITMQ_URL
from tests.telemetry.conftest import PARENT_ID, TRACE_ID, TRACEPARENT, Traces, run_jobs, submit
from tests.worker.conftest import Place

EMAIL = {"type": "email", "payload": {"to": "a@b.c"}}


def _noop_handlers() -> Handlers:
    handlers = Handlers()
    handlers.add("email", lambda payload: None)
    return handlers


def _parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def _trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


async def test_a_jobs_run_is_a_child_of_its_submit_span_in_the_callers_trace(
    broker: Broker, place: Place, traces: Traces
) -> None:
    answer = await submit(broker, "/jobs", EMAIL, {"traceparent": TRACEPARENT}, traces)
    assert answer.status_code == 202
    job_id = answer.json()["id"]

    await run_jobs(place, _noop_handlers(), traces)

    submitted, published = traces.one("submit jobs"), traces.one("publish jobs")
    run, acked = traces.one("process jobs"), traces.one("ack jobs")
    assert {_trace_id(span) for span in (submitted, published, run, acked)} == {TRACE_ID}
    assert _parent_id(submitted) == int(PARENT_ID, 16)
    assert _parent_id(published) == _span_id(submitted)
    assert _parent_id(run) == _span_id(submitted)
    assert _parent_id(acked) == _span_id(run)
    assert (submitted.kind, published.kind, run.kind) == (
        SpanKind.SERVER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    )
    for span in (submitted, published, run):
        attributes = span.attributes or {}
        assert attributes["messaging.message.id"] == job_id
        assert attributes["jobqueue.job.type"] == "email"
        assert attributes["jobqueue.job.attempt"] == 0
        assert attributes["messaging.destination.name"] == "jobs"
    assert (submitted.attributes or {})["http.response.status_code"] == 202
    assert (run.attributes or {})["jobqueue.worker.id"] == "worker-1"
    assert (acked.attributes or {})["messaging.operation.name"] == "ack"
    assert (acked.attributes or {})["messaging.message.id"] == job_id
    assert run.status.status_code is StatusCode.UNSET


async def test_every_attempt_of_a_retried_job_runs_in_the_submissions_trace(
    broker: Broker, place: Place, traces: Traces
) -> None:
    handlers = Handlers()

    @handlers.job("email", max_attempts=3)
    def fail_twice(payload: Any, ctx: JobContext) -> None:
        if ctx.attempt < 2:
            raise ValueError(f"failure {ctx.attempt}")

    answer = await submit(broker, "/jobs", EMAIL, {"traceparent": TRACEPARENT}, traces)
    assert answer.status_code == 202

    await run_jobs(place, handlers, traces)

    submitted = traces.one("submit jobs")
    runs = traces.spans("process jobs")
    assert [(run.attributes or {})["jobqueue.job.attempt"] for run in runs] == [0, 1, 2]
    assert {_trace_id(run) for run in runs} == {TRACE_ID}
    assert {_parent_id(run) for run in runs} == {_span_id(submitted)}
    assert [run.status.status_code for run in runs] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]
    retries = traces.spans("retry jobs")
    assert [_parent_id(retry) for retry in retries] == [_span_id(run) for run in runs[:2]]
    assert [(retry.attributes or {})["jobqueue.job.attempt"] for retry in retries] == [0, 1]
    assert _parent_id(traces.one("ack jobs")) == _span_id(runs[2])


async def test_a_dead_lettered_job_has_a_dead_letter_span_with_its_reason(
    broker: Broker, place: Place, traces: Traces
) -> None:
    handlers = Handlers()

    @handlers.job("email", max_attempts=1)
    def fail(payload: Any) -> None:
        raise ValueError("no such mailbox")

    await submit(broker, "/jobs", EMAIL, {"traceparent": TRACEPARENT}, traces)
    await run_jobs(place, handlers, traces)

    run, dead = traces.one("process jobs"), traces.one("dead_letter jobs")
    assert run.status.status_code is StatusCode.ERROR
    assert _parent_id(dead) == _span_id(run)
    assert (dead.attributes or {})["jobqueue.dead_letter.reason"] == "max_attempts"
    assert _trace_id(dead) == TRACE_ID


async def test_without_a_traceparent_the_submit_span_starts_the_trace(
    broker: Broker, place: Place, traces: Traces
) -> None:
    assert (await submit(broker, "/jobs", EMAIL, traces=traces)).status_code == 202
    await run_jobs(place, _noop_handlers(), traces)

    submitted, run = traces.one("submit jobs"), traces.one("process jobs")
    assert submitted.parent is None
    assert _trace_id(run) == _trace_id(submitted) != TRACE_ID
    assert _parent_id(run) == _span_id(submitted)


async def test_each_job_of_a_batch_runs_as_a_child_of_the_batchs_submit_span(
    broker: Broker, place: Place, traces: Traces
) -> None:
    batch = {"jobs": [EMAIL, EMAIL, EMAIL]}
    answer = await submit(broker, "/jobs/batch", batch, {"traceparent": TRACEPARENT}, traces)
    assert answer.status_code == 202

    await run_jobs(place, _noop_handlers(), traces)

    submitted = traces.one("submit jobs")
    assert (submitted.attributes or {})["messaging.batch.message_count"] == 3
    runs = traces.spans("process jobs")
    ids = {job["id"] for job in answer.json()["jobs"]}
    assert {(run.attributes or {})["messaging.message.id"] for run in runs} == ids
    assert {_parent_id(run) for run in runs} == {_span_id(submitted)}


async def test_a_refused_submission_is_a_failed_submit_span_and_publishes_nothing(
    broker: Broker, traces: Traces
) -> None:
    answer = await submit(broker, "/jobs", {"type": ""}, {"traceparent": TRACEPARENT}, traces)

    assert answer.status_code == 422
    submitted = traces.one("submit jobs")
    assert submitted.status.status_code is StatusCode.ERROR
    assert (submitted.attributes or {})["error.type"] == "InvalidJob"
    assert traces.spans("publish jobs") == []


async def test_the_message_carries_the_submit_spans_context(broker: Broker, traces: Traces) -> None:
    await submit(broker, "/jobs", EMAIL, {"traceparent": TRACEPARENT}, traces)

    [delivery] = await take_deliveries(broker, 1)
    submitted = traces.one("submit jobs")
    assert delivery.headers == {
        "traceparent": f"00-{TRACE_ID}-{_span_id(submitted):016x}-01",
    }


@pytest.mark.rabbitmq
async def test_on_rabbitmq_every_attempt_runs_in_the_submissions_trace(traces: Traces) -> None:
    handlers = Handlers()

    @handlers.job("email", max_attempts=2)
    def fail_once(payload: Any, ctx: JobContext) -> None:
        if ctx.attempt == 0:
            raise ValueError("first attempt")

    place = Place(RABBITMQ_URL, fresh_queue_name())
    broker = place.broker()
    await broker.connect()
    try:
        headers = {"traceparent": TRACEPARENT}
        answer = await submit(broker, "/jobs", EMAIL, headers, traces, place.queue)
        assert answer.status_code == 202
        await run_jobs(place, handlers, traces)
    finally:
        await broker.close()
        await asyncio.to_thread(delete_queues, place.url, place.queue)

    submitted = traces.one(f"submit {place.queue}")
    runs = traces.spans(f"process {place.queue}")
    assert [(run.attributes or {})["jobqueue.job.attempt"] for run in runs] == [0, 1]
    assert {_trace_id(run) for run in runs} == {TRACE_ID}
    assert {_parent_id(run) for run in runs} == {_span_id(submitted)}
    assert _parent_id(traces.one(f"retry {place.queue}")) == _span_id(runs[0])
