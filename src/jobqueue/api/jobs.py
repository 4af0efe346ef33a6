"""Job submission routes: ``POST /jobs`` and ``POST /jobs/batch``.

A 202 is answered only after ``broker.publish`` returned, which is the broker's confirm (or
commit): an accepted job is durable. Each request awaits its own publish; the broker pipelines
concurrent publishes, so requests do not wait on each other's confirms. With a job store, the
accepted jobs are then recorded, and idempotency keys (the ``Idempotency-Key`` header, a job's
``idempotency_key`` in a batch) are honoured: see :mod:`jobqueue.api.submission`.

Both routes are also :mod:`shortcuts <jobqueue.api.shortcuts>`: the app calls their endpoints
directly, past FastAPI's middleware stack and router.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from jobqueue.api.allow import refuses_methods
from jobqueue.api.schemas import (
    NO_CONTROL_CHARACTERS,
    BatchOut,
    JobOut,
    JobRequest,
    batch_request_schema,
    error_responses,
    json_response,
    request_body_schema,
)
from jobqueue.api.served import ServedCheck, warning_header
from jobqueue.api.settings import ApiSettings
from jobqueue.api.shortcuts import Shortcuts
from jobqueue.api.submission import Submitter
from jobqueue.api.validation import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    check_content_type,
    check_idempotency_key,
    idempotency_keys,
    job_from_body,
    jobs_from_batch,
    parse_json,
)
from jobqueue.brokers import Broker
from jobqueue.delay.fields import unique_claims
from jobqueue.store import Store
from jobqueue.telemetry.submit_spans import Endpoint, submit_tracing

_SUBMIT_ERRORS = error_responses(400, 409, 413, 415, 422, 503)
_NOT_POST = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]
_REPEATED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": JobOut,
        "description": "Submitted before under this Idempotency-Key, or its unique_key is "
        "held by this (existing) job.",
    }
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retry-safe submission: the same key and body answer the original job.",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        pattern=NO_CONTROL_CHARACTERS,
    ),
]


async def read_json(request: Request) -> Any:
    """The request's JSON body, after its content type was checked; exact numbers kept."""
    check_content_type(request.headers.get("content-type"))
    return parse_json(await request.body())


def jobs_router(
    broker: Broker,
    settings: ApiSettings,
    shortcuts: Shortcuts,
    store: Store | None = None,
    served: ServedCheck | None = None,
) -> APIRouter:
    """The routes that accept jobs, publishing through ``broker`` and recording in ``store``;
    their endpoints are added to ``shortcuts`` too. With ``served``, a job of a type no live
    worker serves is answered with a warning (or refused, as its policy says)."""
    router = APIRouter(tags=["jobs"])
    tracing = submit_tracing(settings.tracer_provider, settings.queue)
    publish = broker.publish if tracing is None else tracing.publisher(broker.publish)
    submitter = Submitter(broker, store, publish)

    async def warning(job_types: list[str]) -> str | None:
        return None if served is None else await served.warning(job_types)

    @router.post(
        "/jobs",
        status_code=202,
        response_class=Response,
        summary="Submit a job",
        responses={
            202: {
                "model": JobOut,
                "description": "Accepted: the job is durably queued.",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            **_REPEATED,
            **_SUBMIT_ERRORS,
        },
        openapi_extra=request_body_schema(JobRequest.model_json_schema()),
    )
    async def submit_job(request: Request, idempotency_key: IdempotencyKey = None) -> Response:
        """Queue one job; answers once the broker has it durably."""
        data = await read_json(request)
        job = job_from_body(data)
        uniques = unique_claims(data, [job.id], batch=False)
        key = None if idempotency_key is None else check_idempotency_key(idempotency_key)
        warned = await warning([job.type])
        status, (answer,) = await submitter.submit([job], [key], uniques)
        headers = {"Location": f"/jobs/{answer['id']}"}
        if warned is not None:
            answer, headers["Warning"] = {**answer, "warning": warned}, warning_header(warned)
        return json_response(answer, status, headers)

    @router.post(
        "/jobs/batch",
        status_code=202,
        response_class=Response,
        summary="Submit several jobs at once",
        responses={
            202: {"model": BatchOut, "description": "Accepted: every job is durably queued."},
            200: {"model": BatchOut, "description": "Every job was submitted before (keys)."},
            **_SUBMIT_ERRORS,
        },
        openapi_extra=request_body_schema(batch_request_schema(settings.max_batch)),
    )
    async def submit_batch(request: Request) -> Response:
        """Queue up to ``max_batch`` jobs, all or none; a bad item is named by its index."""
        data = await read_json(request)
        jobs = jobs_from_batch(data, settings.max_batch)
        warned = await warning([job.type for job in jobs])
        uniques = unique_claims(data, [job.id for job in jobs], batch=True)
        status, answers = await submitter.submit(jobs, idempotency_keys(data), uniques)
        if warned is None:
            return json_response({"jobs": answers}, status)
        answer = {"jobs": answers, "warning": warned}
        return json_response(answer, status, {"Warning": warning_header(warned)})

    one: Endpoint[[str | None]] = submit_job
    batch: Endpoint[[]] = submit_batch
    if tracing is not None:  # the shortcuts serve nearly every submission: they are traced
        one, batch = tracing.endpoint(one), tracing.endpoint(batch)
    shortcuts.add("/jobs", lambda request: one(request, _idempotency_key(request)))
    shortcuts.add("/jobs/batch", batch)
    # The status routes' GET and DELETE /jobs/{job_id} would take "batch" for a job id: any
    # other method than POST is answered here first, as the router answers a wrong method.
    router.add_route("/jobs/batch", _post_only, methods=_NOT_POST, include_in_schema=False)
    return router


@refuses_methods
async def _post_only(_request: Request) -> Response:
    raise HTTPException(405, headers={"Allow": "POST"})


def _idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header as FastAPI reads it for :data:`IdempotencyKey`."""
    return request.headers.get("idempotency-key")
