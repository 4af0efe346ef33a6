"""The Broker protocol every backend implements, the values it trades in, and ``from_url``.

A backend moves job messages; it does not run them. Its contract, checked for every backend by
``jobqueue.testing.broker`` (the conformance suite):

- ``publish`` returns only once every job is durably stored (publisher confirm on RabbitMQ, a
  committed transaction on SQLite); otherwise it raises ``BrokerUnavailable`` and the caller
  must treat none of the jobs as accepted.
- ``deliveries`` yields each job to one consumer at a time, at most ``prefetch`` unsettled at
  once. Every delivery is settled exactly once with ``ack``, ``retry``, ``dead_letter`` or
  ``release``. A delivery that is never settled (its consumer died) is delivered again;
  a message delivered more than ``max_redeliveries`` times without being settled is
  dead-lettered with reason ``redelivery_limit`` so that a job that kills workers cannot loop.
- ``retry`` and ``dead_letter`` store the new copy durably *before* they remove the original,
  so a crash between the two duplicates a job and never loses one.
- A job's ``headers`` (the trace context) travel beside its body: ``publish`` and ``retry``
  store them, and its deliveries carry them in ``Delivery.headers``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from jobqueue.errors import ConfigError
from jobqueue.job import Job, utc_now

DEFAULT_BROKER_URL = "sqlite:///jobqueue.db"
DEFAULT_QUEUE = "jobs"
DEFAULT_MAX_REDELIVERIES = 5


class DeathReason:
    """Why a job reached the dead-letter queue (values of :attr:`Death.reason`)."""

    MAX_ATTEMPTS = "max_attempts"
    REJECTED = "rejected"
    UNKNOWN_TYPE = "unknown_type"
    UNDECODABLE = "undecodable"
    REDELIVERY_LIMIT = "redelivery_limit"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message handed to a consumer; settle it exactly once through the broker.

    ``body`` is the raw message: decoding it into a :class:`Job` is the worker's business, so
    that an undecodable body can still be dead-lettered as it was. ``token`` is the backend's
    own handle (a delivery tag and channel generation, a lease row id).

    ``death`` is the broker's verdict on a message delivered more than ``max_redeliveries``
    times without being settled (it keeps killing its consumers): it must not run again, and
    its consumer settles it with ``dead_letter(delivery, delivery.death)`` — after recording
    why, if it records jobs' states (the worker sends the job's ``dead`` event first).

    ``headers`` are the job's message headers as published (``Job.headers``), None for none.
    """

    message_id: str
    body: bytes
    redelivered: bool
    token: object = field(repr=False, compare=False)
    death: Death | None = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Death:
    """Why a job was dead-lettered, attached to its dead copy."""

    reason: str
    error: str | None = None
    traceback: str | None = None
    attempts: int = 0
    worker_id: str | None = None
    failed_at: str = field(default_factory=utc_now)
    first_failed_at: str | None = None


@dataclass(frozen=True, slots=True)
class DeadJob:
    """A message in the dead-letter queue: the body as it was, and why it died."""

    message_id: str
    body: bytes
    death: Death

    @property
    def job(self) -> Job | None:
        """The decoded job, or None when the body was never a job."""
        try:
            return Job.decode(self.body)
        except Exception:
            return None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How many messages wait: ready to run, delayed for a retry, and dead."""

    ready: int
    delayed: int
    dead: int


@runtime_checkable
class Broker(Protocol):
    """Durable job transport: publish, deliver, settle, and the dead-letter queue."""

    async def connect(self) -> None:
        """Connect and declare what the backend needs; raises ``BrokerUnavailable``."""

    async def close(self) -> None:
        """Stop consuming, release connections. Unsettled deliveries go back to the queue."""

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Store ``jobs`` durably (each with its ``headers``), all or nothing, returning only
        once they are durable.

        Raises ``BrokerUnavailable`` when the broker is down, blocked, or does not confirm.
        """

    def deliveries(self, prefetch: int) -> AsyncIterator[Delivery]:
        """Yield deliveries forever, at most ``prefetch`` unsettled at once.

        Survives reconnects by itself. Ends (the iterator stops) after ``stop_consuming``.
        """

    async def stop_consuming(self) -> None:
        """Take no more deliveries; those already yielded can still be settled."""

    async def ack(self, delivery: Delivery) -> None:
        """The job is done: remove it."""

    async def retry(self, delivery: Delivery, job: Job, delay_s: float) -> None:
        """Store ``job`` (the next attempt, with its ``headers``) to be delivered after
        ``delay_s``, then remove the original. The new copy is durable before the original
        goes."""

    async def dead_letter(self, delivery: Delivery, death: Death, job: Job | None = None) -> None:
        """Store the body in the dead-letter queue with ``death``, then remove the original.

        With ``job``, its encoding is stored instead of the delivered body (the job as it
        ended: its attempts all counted).
        """

    async def release(self, delivery: Delivery) -> None:
        """Hand the delivery back unprocessed, to be delivered again (graceful shutdown)."""

    async def is_ready(self) -> bool:
        """Whether the broker can accept a publish right now (for ``/readyz``)."""

    async def depth(self) -> QueueDepth:
        """Counts of ready, delayed and dead messages, without consuming any."""

    async def dead_jobs(self, limit: int = 100) -> list[DeadJob]:
        """The oldest ``limit`` dead jobs, oldest first, without removing them."""

    async def dead_job(self, message_id: str) -> DeadJob | None:
        """One dead job by id, or None."""

    async def replay(self, message_id: str) -> Job | None:
        """Publish the dead job again with attempts reset (durably), then remove the dead copy.

        Returns the job published, or None when no dead job has that id. Raises
        ``DecodeError`` when the dead body is not a job (it stays in the dead-letter queue).
        """

    async def replay_all(self) -> int:
        """Replay every dead job that is a job; returns how many were replayed."""

    async def purge_dead(self) -> int:
        """Delete every dead job; returns how many were deleted."""

    async def replay_ids(self, message_ids: Collection[str]) -> list[Job]:
        """Replay, as :meth:`replay` does, the oldest dead copy of each of ``message_ids``
        whose body is a job; returns the jobs published (durably), oldest first. Ids that
        are not dead, and bodies that are not jobs, are left as they are."""

    async def purge_dead_ids(self, message_ids: Collection[str]) -> int:
        """Delete every dead copy whose id is one of ``message_ids``; returns how many went."""


@runtime_checkable
class SkipsTypes(Protocol):
    """A broker that can leave the jobs of some types to other consumers: the embedded one
    filters its claims by type, where RabbitMQ delivers a queue's messages to any consumer."""

    def skip_types(self, job_types: Collection[str]) -> None:
        """Deliver no job of ``job_types`` from now on (replacing the types given before)."""


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for logs and errors.

    The password is everything from the user's ``:`` to the *last* ``@`` of the authority, so
    one holding ``@`` is hidden whole. An ``@`` after the authority (a password holding ``/``,
    ``?`` or ``#`` unencoded, which parsers read as a path) hides everything before the last
    ``@`` of the URL, user included: a URL that cannot be read for sure is never shown as it
    is. ``password=`` in the query is hidden too.
    """
    return _redacted(url)[0]


def redact_text(text: str, url: str) -> str:
    """``text`` (an error about ``url``, from a library that may quote parts of it) with the
    URL redacted and every piece of its secrets replaced by ``***``."""
    shown, secrets = _redacted(url)
    text = text.replace(url, shown)
    for secret in secrets:
        for piece in sorted({secret, *_SECRET_SEPARATORS.split(secret)}, key=len, reverse=True):
            if len(piece) >= _MIN_SECRET_PIECE:
                text = text.replace(piece, "***")
    return text


_QUERY_SECRET = re.compile(r"(?i)([?&;](?:password|passwd|pwd|pass)=)([^&;#]*)")
_SECRET_SEPARATORS = re.compile(r"[:/?#@&;=]")
_MIN_SECRET_PIECE = 3  # shorter pieces would blank out ordinary words in the text


def _redacted(url: str) -> tuple[str, list[str]]:
    """The URL with its secrets masked, and the secrets."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    secrets = [match.group(2) for match in _QUERY_SECRET.finditer(rest) if match.group(2)]
    at = _userinfo_end(rest)
    if at >= 0:
        userinfo, hostpart = rest[:at], rest[at + 1 :]
        user, colon, password = userinfo.partition(":")
        if at > _authority_end(rest):  # the authority ended before the '@': read nothing
            masked, secret = "***", userinfo
        else:
            masked, secret = (f"{user}:***", password) if colon else (userinfo, "")
        secrets += [secret] if secret else []
        rest = f"{masked}@{hostpart}"
    return scheme + sep + _QUERY_SECRET.sub(r"\1***", rest), secrets


def _authority_end(rest: str) -> int:
    """Where the authority (``user:password@host:port``) of a URL's rest ends."""
    ends = [index for index in (rest.find(c) for c in "/?#") if index >= 0]
    return min(ends, default=len(rest))


def _userinfo_end(rest: str) -> int:
    """The ``@`` that ends the userinfo, taken to be the last one of the URL (one after the
    authority means a password broke it); -1 for none, or for an empty authority."""
    return -1 if _authority_end(rest) == 0 else rest.rfind("@")


def broker_identity(url: str) -> str:
    """The broker a URL names, comparable between processes: an embedded broker's URL with its
    file's absolute path (a relative one depends on the working directory), else the URL
    without its password."""
    if url.lower().startswith("sqlite:"):
        from jobqueue.brokers.sqlite_store.url import database_path

        return f"sqlite:///{database_path(url).resolve()}"
    return redact_url(url)


def from_url(
    url: str,
    queue: str = DEFAULT_QUEUE,
    max_redeliveries: int = DEFAULT_MAX_REDELIVERIES,
    queue_type: str = "classic",
    priorities: int = 0,
) -> Broker:
    """Build the backend a URL names: ``sqlite:///path`` or ``amqp://user:pass@host:port/vhost``.

    ``queue_type`` (``classic`` or ``quorum``) is RabbitMQ's; the embedded broker has one kind.
    ``priorities`` (``JOBQUEUE_PRIORITIES``; 0: off) is RabbitMQ's ``x-max-priority`` of the
    queue; the embedded broker always delivers higher priorities first.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from jobqueue.brokers.sqlite import SqliteBroker

        if queue_type != "classic":
            raise ConfigError(f"queue type {queue_type!r} needs RabbitMQ (amqp://...)")

        return SqliteBroker(url, queue=queue, max_redeliveries=max_redeliveries)
    if scheme in ("amqp", "amqps"):
        from jobqueue.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(
            url,
            queue=queue,
            max_redeliveries=max_redeliveries,
            queue_type=queue_type,
            max_priority=priorities,
        )
    raise ConfigError(
        f"unsupported broker URL {redact_url(url)!r}: use sqlite:///path or amqp://host"
    )
