"""Job submission routes: ``POST /jobs`` and ``POST /jobs/batch``.

A 202 is answered only after ``broker.publish`` returned, which is the broker's confirm (or
commit): an accepted job is durable. Each request awaits its own publish; the broker pipelines
concurrent publishes, so requests do not wait on each other's confirms.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from jobqueue.api.schemas import (
    BatchOut,
    JobOut,
    JobRequest,
    batch_request_schema,
    error_responses,
    json_response,
    request_body_schema,
)
from jobqueue.api.settings import ApiSettings
from jobqueue.api.validation import check_content_type, job_from_body, jobs_from_batch, parse_json
from jobqueue.brokers import Broker

_SUBMIT_ERRORS = error_responses(400, 413, 415, 422, 503)


async def read_json(request: Request) -> Any:
    """The request's JSON body, after its content type was checked; exact numbers kept."""
    check_content_type(request.headers.get("content-type"))
    return parse_json(await request.body())


def jobs_router(broker: Broker, settings: ApiSettings) -> APIRouter:
    """The routes that accept jobs, publishing through ``broker``."""
    router = APIRouter(tags=["jobs"])

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
            **_SUBMIT_ERRORS,
        },
        openapi_extra=request_body_schema(JobRequest.model_json_schema()),
    )
    async def submit_job(request: Request) -> Response:
        """Queue one job; answers once the broker has it durably."""
        job = job_from_body(await read_json(request))
        await broker.publish([job])
        return json_response(job.to_wire(), 202, {"Location": f"/jobs/{job.id}"})

    @router.post(
        "/jobs/batch",
        status_code=202,
        response_class=Response,
        summary="Submit several jobs at once",
        responses={
            202: {"model": BatchOut, "description": "Accepted: every job is durably queued."},
            **_SUBMIT_ERRORS,
        },
        openapi_extra=request_body_schema(batch_request_schema(settings.max_batch)),
    )
    async def submit_batch(request: Request) -> Response:
        """Queue up to ``max_batch`` jobs, all or none; a bad item is named by its index."""
        jobs = jobs_from_batch(await read_json(request), settings.max_batch)
        await broker.publish(jobs)
        return json_response({"jobs": [job.to_wire() for job in jobs]}, 202)

    return router
