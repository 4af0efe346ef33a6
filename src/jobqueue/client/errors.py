"""What the client raises: an API's refusal, or an exchange that failed, as the project's errors.

JobqueueError
├── ApiError                  the API refused a request or could not be reached; ``status``,
│   │                         ``code`` and ``message`` are the answer's (the JSON error shape)
│   ├── InvalidRequest        400, 405, 413, 415, 422: the message names the field (an InvalidJob)
│   │   ├── UnknownJobType    422 ``unknown_job_type`` (a jobqueue.errors.UnknownJobType too)
│   │   └── IdempotencyKeyReused  422: the key was used for another body (an IdempotencyConflict)
│   ├── Unauthorized          401: no token, or one the API does not know (an Unauthenticated)
│   ├── Forbidden             403: the token lacks the scope named (a PermissionDenied)
│   ├── NotFound              404: no such job, dead job or worker (a jobqueue.errors.NotFound)
│   ├── Conflict              409
│   │   ├── JobFinished       the job has finished: it cannot be cancelled
│   │   └── SubmissionInFlight  the key's first submission is still under way (retried)
│   ├── RateLimited           429 (retried, after its ``Retry-After``)
│   ├── ServerError           500 and other 5xx
│   └── Unavailable           502, 503, 504, 408, and a connection that failed or timed out
└── WaitTimeout               ``wait`` ran out of time before the job finished; ``job`` is its
                              last state
"""

from __future__ import annotations

from typing import Any

import httpx

from jobqueue import codec, errors
from jobqueue.brokers import redact_text, redact_url
from jobqueue.errors import JobqueueError


class ApiError(JobqueueError):
    """An exchange with the API that did not succeed: the status (None when no answer came),
    the answer's error code and message, and the seconds its ``Retry-After`` asked for."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


class InvalidRequest(ApiError, errors.InvalidJob):
    """The API refused the request's body or parameters; the message names the field."""


class UnknownJobType(InvalidRequest, errors.UnknownJobType):
    """No live worker serves the job's type, and the API refuses such jobs."""


class IdempotencyKeyReused(InvalidRequest, errors.IdempotencyConflict):
    """The idempotency key was used before for a different job."""


class Unauthorized(ApiError, errors.Unauthenticated):
    """The API wants a valid token: none was sent, or it does not know this one."""


class Forbidden(ApiError, errors.PermissionDenied):
    """The token lacks the scope the action needs; the message names the scope."""


class NotFound(ApiError, errors.NotFound):
    """No such job, dead job or worker."""


class Conflict(ApiError):
    """The request conflicts with the state of what it names."""


class JobFinished(Conflict):
    """The job has finished (a cancelled one too): it cannot be cancelled."""


class SubmissionInFlight(Conflict, errors.IdempotencyInFlight):
    """The first submission under this idempotency key has not finished yet."""


class RateLimited(ApiError):
    """The client submits faster than the API allows it."""


class ServerError(ApiError):
    """The API failed on its side."""


class Unavailable(ApiError):
    """The API, or what it needs (broker, job store, registry), cannot serve now: try later."""


class WaitTimeout(JobqueueError):
    """The job did not finish within the time given to wait for it; ``job`` is its last state."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job


# The one table: an answer's code decides first, then its status; other statuses by class.
_BY_CODE: dict[str, type[ApiError]] = {
    "unknown_job_type": UnknownJobType,
    "idempotency_key_reused": IdempotencyKeyReused,
    "job_finished": JobFinished,
    "idempotency_key_in_flight": SubmissionInFlight,
}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: InvalidRequest,
    408: Unavailable,
    409: Conflict,
    413: InvalidRequest,
    415: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}


def error_class(status: int, code: str) -> type[ApiError]:
    """The error an answer of ``status`` with the error ``code`` is raised as."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError


def answer_error(response: httpx.Response, retry_after_s: float | None) -> ApiError:
    """The error for an answer that is not a success, carrying the API's code and message."""
    code, message = _error_fields(response)
    cls = error_class(response.status_code, code)
    return cls(message, status=response.status_code, code=code, retry_after_s=retry_after_s)


def unreachable(exc: httpx.TransportError, base_url: str) -> Unavailable:
    """The error for an exchange that got no answer: the API's address (its password hidden)
    and what went wrong."""
    why = redact_text(str(exc) or type(exc).__name__, base_url)
    message = f"cannot reach the API at {redact_url(base_url)}: {why}"
    return Unavailable(message, code=type(exc).__name__)


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """The answer's ``{"error": {"code", "message"}}``, else its text or reason phrase."""
    try:
        error = codec.loads(response.content)["error"]
        return str(error.get("code", "")), str(error["message"])
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text.strip()[:200] or response.reason_phrase
        return "", f"the API answered {response.status_code}: {text}"
