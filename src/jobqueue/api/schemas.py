"""The API's request and response shapes: pydantic models for the OpenAPI schema, dict views.

Requests are parsed by :mod:`jobqueue.api.validation` and responses written with
:func:`jobqueue.codec.dumps`, so numbers travel exactly; these models describe them for the docs.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.responses import Response

from jobqueue import codec
from jobqueue.api.validation import MAX_ATTEMPTS_LIMIT
from jobqueue.handlers import MAX_TYPE_LENGTH
from jobqueue.job import MAX_PRIORITY

NO_CONTROL_CHARACTERS = "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$"
"""A pattern for the strings that may hold no control character (job types, keys), as far as
a JSON Schema pattern can say it; the API checks Unicode's categories themselves."""
_TEXT = "[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]"
JOB_TYPE_PATTERN = f"^{_TEXT}*[^\\s\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]{_TEXT}*$"
"""A job type: no control character, and not blank."""
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)")


def _rfc3339_text(value: Any) -> Any:
    """Only an RFC 3339 string (pydantic alone would take a number as Unix time too)."""
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        raise ValueError("must be an RFC 3339 time with its offset, like 2026-01-02T03:04:05Z")
    return value


Rfc3339Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
"""A moment given as RFC 3339 text with its offset."""


class JobRequest(BaseModel):
    """A job to submit."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        min_length=1,
        max_length=MAX_TYPE_LENGTH,
        pattern=JOB_TYPE_PATTERN,
        description="Job type: which handler runs it. No control characters.",
        examples=["email"],
    )
    payload: Any = Field(
        default_factory=dict,
        description="Any JSON value, handed to the handler exactly as submitted.",
        examples=[{"to": "user@example.com", "subject": "Hello"}],
    )
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ATTEMPTS_LIMIT,
        description="Attempts before the job is dead-lettered (the handler's setting if absent).",
    )
    priority: int = Field(
        default=0,
        ge=0,
        le=MAX_PRIORITY,
        description="0 (the default) to 9: among jobs due together, a higher one is delivered "
        "first (FIFO within a priority).",
    )
    run_at: str | None = Field(
        default=None,
        description="Run no earlier than this RFC 3339 time, with an offset (Z or +01:00); "
        "a time past runs now. The job is `scheduled` until then. Not with delay_s.",
        examples=["2027-01-31T09:00:00Z"],
    )
    delay_s: float | None = Field(
        default=None,
        ge=0,
        description="Run this many seconds from now (within JOBQUEUE_MAX_DELAY_S, a year by "
        "default). Not with run_at.",
    )
    unique_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=NO_CONTROL_CHARACTERS,
        description="While a job holding this key is within its window, a submission with the "
        "same key answers that job (200) instead of queueing another.",
    )
    unique_for_s: float | None = Field(
        default=None, gt=0, description="The key's window: this many seconds from submission."
    )
    unique_while: Literal["queued", "running"] | None = Field(
        default=None,
        description="The key's window: until the job starts (queued) or finishes (running).",
    )


class BatchJobRequest(JobRequest):
    """A job of a batch, with its own optional idempotency key."""

    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=NO_CONTROL_CHARACTERS,
        description="Retry-safe submission: a job submitted before under this key (with the "
        "same type, payload, max_attempts and priority) is answered, not queued again.",
    )


class JobOut(BaseModel):
    """An accepted job: the original fields first, new ones beside."""

    id: str = Field(description="Job id: a UUIDv7, time-ordered.")
    type: str
    payload: Any
    attempts: int = Field(description="Attempts already made; 0 for a new job.")
    max_attempts: int | None = None
    priority: int = Field(0, description="0 to 9, higher first.")
    created_at: str = Field(description="When the job was created (ISO 8601, UTC).")
    run_at: str | None = Field(None, description="A delayed job's due time (ISO 8601, UTC).")
    warning: str | None = Field(
        None, description="Present when no live worker serves the job's type: it waits for one."
    )


class BatchOut(BaseModel):
    """Accepted jobs of a batch, in the order submitted."""

    jobs: list[JobOut]
    warning: str | None = Field(
        None, description="Present when no live worker serves some job types of the batch."
    )


class ErrorDetail(BaseModel):
    """What went wrong: a stable code and a message naming the problem."""

    code: str = Field(examples=["invalid_job"])
    message: str = Field(examples=["type: must not be empty"])


class ErrorOut(BaseModel):
    """Every error answer has this shape."""

    error: ErrorDetail


class StatusOut(BaseModel):
    """A probe answer."""

    status: str


class DeadJobOut(BaseModel):
    """A job in the dead-letter queue; ``type`` and ``payload`` are null for an undecodable body."""

    id: str
    type: str | None
    attempts: int
    reason: str = Field(examples=["max_attempts"])
    error: str | None
    failed_at: str
    worker_id: str | None
    payload: Any
    body: str | None = Field(
        default=None, description="The raw message, only when it is not a job."
    )


class DeadJobDetailOut(DeadJobOut):
    """One dead job with everything known about its death."""

    traceback: str | None
    first_failed_at: str | None
    job: JobOut | None


class DeadJobListOut(BaseModel):
    """Dead jobs, oldest first."""

    dead_jobs: list[DeadJobOut]


class CountOut(BaseModel):
    """How many dead jobs an operation touched."""

    replayed: int | None = None
    purged: int | None = None


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``value`` as JSON written by :func:`jobqueue.codec.dumps`, so numbers stay exact."""
    return Response(codec.dumps(value), status, headers=headers, media_type="application/json")


def request_body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body that the route parses itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


def batch_request_schema(max_batch: int) -> dict[str, Any]:
    """The JSON schema of a ``POST /jobs/batch`` body."""
    return {
        "title": "BatchRequest",
        "type": "object",
        "additionalProperties": False,
        "required": ["jobs"],
        "properties": {
            "jobs": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch,
                "items": BatchJobRequest.model_json_schema(),
            }
        },
    }


_ERROR_DESCRIPTIONS = {
    404: "No such resource.",
    400: "The body is not JSON, or a cursor is not one this API made.",
    409: "A conflict: the job already finished, an idempotency key's first submission is still "
    "in flight, or a dead message is not a job.",
    413: "The body is larger than the limit.",
    415: "The body is not declared as application/json.",
    422: "The body or a parameter breaks a rule; the message names it.",
    503: "The broker or the job store is unavailable; retry after the Retry-After header's "
    "seconds.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error answers a route can give."""
    return {
        status: {"model": ErrorOut, "description": _ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }
