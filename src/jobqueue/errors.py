"""The one exception tree of jobqueue; each edge (HTTP, gRPC, CLI) maps it in one table.

JobqueueError
├── ConfigError            bad configuration (URL, flag, environment variable)
├── InvalidJob             a submitted job that breaks the rules (type, size, fields)
│   └── InvalidLimit       a concurrency or rate limit that is nonsense (``rate="10/x"``)
├── DecodeError            a message body that is not a job
├── UnknownJobType         no handler is registered for the job's type
├── NotFound               no such job, dead job or worker
├── InvalidWorker          a worker registration or heartbeat that breaks the rules (id, counts)
├── RegistryFull           the worker registry holds its limit of workers: a new id is refused
├── RegistryUnavailable    the worker registry's store (Redis) cannot be reached
├── SessionTaken           a worker id live with another registration's session secret
├── StoreUnavailable       the job state store (SQLite, PostgreSQL) cannot be reached
├── InvalidCursor          a listing cursor that was not made by the store
├── InvalidSchedule        a cron expression, time zone or schedule field that is not valid
├── ScheduleConflict       a schedule name taken, or a change to a schedule declared in code
├── BrokerError            the broker refused or failed an operation
│   └── BrokerUnavailable  the broker cannot be reached, is blocked, or did not confirm
├── JobTimeout             a handler ran past its time limit
├── JobCancelled           raised in a handler whose job was cancelled (``ctx.raise_if_cancelled``)
├── IdempotencyConflict    an idempotency key reused with a different body
├── IdempotencyInFlight    an idempotency key whose first submission is still in flight
├── Retry                  raised by a handler: try again after ``delay_s``
└── Reject                 raised by a handler: dead-letter now, no more attempts
"""

from __future__ import annotations


class JobqueueError(Exception):
    """Base of every error jobqueue raises on purpose."""


class ConfigError(JobqueueError):
    """The configuration is invalid: a bad URL, flag or environment variable."""


class InvalidJob(JobqueueError):
    """A submitted job breaks the rules; the message names the problem."""


class InvalidLimit(InvalidJob):
    """A concurrency or rate limit (in a job, a handler declaration or a slot request) that
    is nonsense; the message names the field."""


class DecodeError(JobqueueError):
    """A message body could not be decoded into a job."""


class UnknownJobType(JobqueueError):
    """No handler is registered for a job's type."""


class NotFound(JobqueueError):
    """The thing asked for does not exist."""


class InvalidWorker(JobqueueError):
    """A worker's registration or heartbeat breaks the rules; the message names the problem."""


class RegistryFull(JobqueueError):
    """The worker registry holds as many workers as it may: a new worker id is refused."""


class RegistryUnavailable(JobqueueError):
    """The worker registry's store cannot be reached."""


class SessionTaken(JobqueueError):
    """A registration for a worker id that is live with a session, without that session's
    secret."""


class StoreUnavailable(JobqueueError):
    """The job state store cannot be reached or did not answer."""


class Unauthenticated(JobqueueError):
    """A request without a valid API token where one is required."""


class PermissionDenied(JobqueueError):
    """A valid API token that lacks the scope an action needs; the message names the scope."""


class TokenExists(JobqueueError):
    """An API token of that name already exists."""


class InvalidCursor(JobqueueError):
    """A pagination cursor that the store did not make."""


class InvalidSchedule(JobqueueError):
    """A schedule breaks the rules: a bad cron expression, time zone or policy, named."""


class ScheduleConflict(JobqueueError):
    """A schedule of that name exists, or the change is refused to one declared in code."""


class BrokerError(JobqueueError):
    """The broker refused or failed an operation."""


class BrokerUnavailable(BrokerError):
    """The broker is unreachable, blocked by an alarm, or did not confirm a publish."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class JobTimeout(JobqueueError):
    """A handler ran longer than its ``timeout_s``."""


class JobCancelled(JobqueueError):
    """The job was cancelled while it ran: the handler stops, and the job is not retried."""


class IdempotencyConflict(JobqueueError):
    """An idempotency key was used before with a different request body."""


class IdempotencyInFlight(JobqueueError):
    """The first submission under an idempotency key has not finished yet: retry shortly."""


class Retry(JobqueueError):
    """Raised by a handler to ask for another attempt after ``delay_s`` seconds."""

    def __init__(self, delay_s: float | None = None, message: str = "retry requested") -> None:
        super().__init__(message)
        self.delay_s = delay_s


class Reject(JobqueueError):
    """Raised by a handler to dead-letter the job now, without further attempts."""


# What an edge tells a client instead of the message: these errors' texts name the deployment
# (a broker's address, a store's file, a registry's host), which the log keeps for operators.
_PUBLIC_MESSAGES: dict[type[JobqueueError], str] = {
    BrokerUnavailable: "broker unavailable",
    StoreUnavailable: "job store unavailable",
    RegistryUnavailable: "worker registry unavailable",
    BrokerError: "the broker failed the operation",
}


def public_message(exc: JobqueueError) -> str:
    """The message a client may see for ``exc``: its own, unless it names the deployment."""
    for cls in type(exc).__mro__:
        if cls in _PUBLIC_MESSAGES:
            return _PUBLIC_MESSAGES[cls]
    return str(exc)
