"""The HTTP edge of the exception tree: one table from error to status, and one JSON error shape.

Every error the API answers, its own or FastAPI's, has the body
``{"error": {"code": "invalid_job", "message": "type: must be a non-empty string"}}``.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from jobqueue.api.allow import allowed_methods
from jobqueue.errors import (
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    DecodeError,
    IdempotencyConflict,
    IdempotencyInFlight,
    InvalidCursor,
    InvalidJob,
    InvalidSchedule,
    JobqueueError,
    NotFound,
    PermissionDenied,
    RegistryUnavailable,
    ScheduleConflict,
    StoreUnavailable,
    TokenExists,
    Unauthenticated,
    UnknownJobType,
    public_message,
)

logger = logging.getLogger(__name__)


class MalformedBody(InvalidJob):
    """The request body is not JSON at all (syntax, encoding, nesting)."""


class UnsupportedMediaType(InvalidJob):
    """The request body is not declared as ``application/json``."""


class BodyTooLarge(InvalidJob):
    """The request body is larger than the configured limit."""


class JobFinished(JobqueueError):
    """The job already finished: it cannot be cancelled."""


# The one table: the most specific class a raised error is an instance of decides its answer.
ERROR_STATUS: dict[type[JobqueueError], tuple[int, str]] = {
    MalformedBody: (400, "malformed_json"),
    BodyTooLarge: (413, "body_too_large"),
    UnsupportedMediaType: (415, "unsupported_media_type"),
    InvalidJob: (422, "invalid_job"),
    UnknownJobType: (422, "unknown_job_type"),
    NotFound: (404, "not_found"),
    Unauthenticated: (401, "unauthorized"),
    PermissionDenied: (403, "forbidden"),
    TokenExists: (409, "token_exists"),
    DecodeError: (409, "undecodable"),
    JobFinished: (409, "job_finished"),
    IdempotencyConflict: (422, "idempotency_key_reused"),
    IdempotencyInFlight: (409, "idempotency_key_in_flight"),
    InvalidCursor: (400, "invalid_cursor"),
    InvalidSchedule: (422, "invalid_schedule"),
    ScheduleConflict: (409, "schedule_conflict"),
    BrokerUnavailable: (503, "broker_unavailable"),
    RegistryUnavailable: (503, "registry_unavailable"),
    StoreUnavailable: (503, "store_unavailable"),
    BrokerError: (502, "broker_error"),
    ConfigError: (500, "config_error"),
    JobqueueError: (500, "internal_error"),
}


def status_for(exc: JobqueueError) -> tuple[int, str]:
    """The HTTP status and error code for ``exc``, from :data:`ERROR_STATUS`."""
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500, "internal_error"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The JSON error answer; non-ASCII is escaped so any message (even a lone surrogate) fits."""
    body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
    return Response(body, status, headers=headers, media_type="application/json")


async def _jobqueue_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JobqueueError)
    status, code = status_for(exc)
    message = public_message(exc)
    if status >= 500:
        logger.error("request failed: %s: %s", type(exc).__name__, exc)
        message = message if message != str(exc) else "internal server error"
    headers = None
    if isinstance(exc, BrokerUnavailable):
        headers = {"Retry-After": str(max(1, exc.retry_after_s))}
    elif isinstance(exc, StoreUnavailable | IdempotencyInFlight):
        headers = {"Retry-After": "1"}
    return error_response(status, code, message, headers)


def _http_message(request: Request, exc: StarletteHTTPException) -> str:
    phrase = HTTPStatus(exc.status_code).phrase
    if exc.detail and exc.detail != phrase:
        return str(exc.detail)
    if exc.status_code == 404:
        return f"no such resource: {request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = allowed_methods(request) or (exc.headers or {}).get("Allow", "")
        return f"method {request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    return phrase


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request) or ""}
        headers["Allow"] = headers["Allow"] or (exc.headers or {}).get("Allow", "")
    return error_response(exc.status_code, code, _http_message(request, exc), headers)


def describe_validation_errors(exc: RequestValidationError) -> str:
    """FastAPI's parameter errors as ``query.limit: Input should be ...``, joined by ``; ``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", describe_validation_errors(exc))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


async def answer_error(request: Request, exc: Exception) -> Response:
    """The answer the app's handlers give to ``exc`` raised by an endpoint."""
    if isinstance(exc, JobqueueError):
        return await _jobqueue_error(request, exc)
    return await _unexpected_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app can answer use the one JSON shape and :data:`ERROR_STATUS`."""
    app.add_exception_handler(JobqueueError, _jobqueue_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
