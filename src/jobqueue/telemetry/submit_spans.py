"""The API's spans: one per submission (``submit {queue}``), one per publish (``publish {queue}``).

A submission's span, the HTTP request's, continues the trace of the request's ``traceparent``
or starts one; its context is written into each job's message headers, for the worker's run
span (:mod:`.spans`) to continue. Built only when tracing is on: with it off, the submit
routes hold None and their path is as it always was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Concatenate, ParamSpec

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue
from starlette.requests import Request
from starlette.responses import Response

from jobqueue.job import Job
from jobqueue.telemetry import attributes as attr
from jobqueue.telemetry import propagation
from jobqueue.telemetry.spans import describe, failed, tracer

P = ParamSpec("P")
Endpoint = Callable[Concatenate[Request, P], Awaitable[Response]]
Publish = Callable[[Sequence[Job]], Awaitable[None]]


def submit_tracing(provider: trace.TracerProvider | None, queue: str) -> SubmitTracing | None:
    """The API's spans over ``queue`` with ``provider``; None (no tracing) without one."""
    return None if provider is None else SubmitTracing(provider, queue)


class SubmitTracing:
    """The API's spans over the queue ``queue``: one per submission, one per publish."""

    def __init__(self, provider: trace.TracerProvider, queue: str) -> None:
        self._tracer = tracer(provider)
        self._queue = queue
        self._destination: dict[str, AttributeValue] = {
            attr.MESSAGING_SYSTEM: attr.SYSTEM,
            attr.MESSAGING_DESTINATION: queue,
        }

    def endpoint(self, endpoint: Endpoint[P]) -> Endpoint[P]:
        """``endpoint`` inside a submit span that continues the request's trace."""

        async def traced(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> Response:
            attributes = {
                **self._destination,
                attr.MESSAGING_OPERATION_TYPE: "create",
                attr.HTTP_METHOD: request.method,
                attr.URL_PATH: request.scope["path"],
            }
            with self._tracer.start_as_current_span(
                f"submit {self._queue}",
                context=propagation.extract(request.headers),
                kind=SpanKind.SERVER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    response = await endpoint(request, *args, **kwargs)
                except Exception as exc:
                    failed(span, exc)
                    raise
                span.set_attribute(attr.HTTP_STATUS, response.status_code)
                return response

        return traced

    def publisher(self, publish: Publish) -> Publish:
        """``publish`` inside a publish span, each job given the submit span's context in its
        headers (the publish span's when there is no submit span)."""

        async def traced(jobs: Sequence[Job]) -> None:
            if not jobs:
                return await publish(jobs)
            submit = trace.get_current_span()
            headers = propagation.inject() if submit.get_span_context().is_valid else None
            describe(submit, jobs)
            with self._tracer.start_as_current_span(
                f"publish {self._queue}",
                kind=SpanKind.PRODUCER,
                attributes={**self._destination, attr.MESSAGING_OPERATION_TYPE: "send"},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                describe(span, jobs)
                headers = headers or propagation.inject()
                try:
                    await publish([dataclasses.replace(job, headers=headers) for job in jobs])
                except Exception as exc:
                    failed(span, exc)
                    raise
            return None

        return traced
