"""The Store protocol that keeps job state, results and history, its values, and ``from_url``.

A store records what happens to jobs so that clients can ask about them: the API records each
job it accepted, workers' lifecycle events (carried through the broker) are applied to it in
batches, and it answers lookups, listings and histories. Its contract, checked for every backend
by ``jobqueue.testing.store`` (the conformance suite), is in the docstrings below; the rules for
folding events into state are in :mod:`jobqueue.store.events`.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from jobqueue.auth.records import AuditEntry, AuditPage, TokenRecord
from jobqueue.config import QUEUE
from jobqueue.errors import ConfigError
from jobqueue.job import Job, JobState
from jobqueue.limits.backend import Grant, LimitOp
from jobqueue.store.counts import JobCount, JobTotal
from jobqueue.store.depths import DepthPoint
from jobqueue.store.events import EventKind, JobEvent
from jobqueue.store.scheduled import DueJob
from jobqueue.store.selection import JobFilter
from jobqueue.store.timings import JobTiming
from jobqueue.store.unique import UniqueClaim, UniqueOutcome
from jobqueue.store.values import (
    DEFAULT_IN_FLIGHT_TIMEOUT_S,
    IdempotencyOutcome,
    JobRecord,
    Page,
    Reservation,
)

__all__ = [
    "DEFAULT_IN_FLIGHT_TIMEOUT_S",
    "DEFAULT_RETENTION_S",
    "DEFAULT_STORE_URL",
    "DepthPoint",
    "DueJob",
    "EventKind",
    "IdempotencyOutcome",
    "JobCount",
    "JobEvent",
    "JobFilter",
    "JobRecord",
    "JobTiming",
    "JobTotal",
    "Page",
    "Reservation",
    "Store",
    "UniqueClaim",
    "UniqueOutcome",
    "default_store_url",
    "from_url",
]

DEFAULT_STORE_URL = "sqlite:///jobqueue-state.db"
DEFAULT_RETENTION_S = 7 * 24 * 3600.0


@runtime_checkable
class Store(Protocol):
    """Job state, results and history, shared by every API replica."""

    async def connect(self) -> None:
        """Open the connection pool; raises ``StoreUnavailable`` when unreachable."""

    async def close(self) -> None:
        """Release every connection. Safe to call twice."""

    async def upgrade(self) -> None:
        """Migrate the schema to the newest version (a no-op when already there).

        Safe to run from several processes at once: they serialise on a lock.
        """

    async def schema_version(self) -> str | None:
        """The applied schema revision, or None for a store never upgraded."""

    async def is_ready(self) -> bool:
        """Whether the store answers a query right now (for ``/readyz``)."""

    async def record_submitted(
        self, jobs: Sequence[Job], idempotency_keys: Mapping[str, str] | None = None
    ) -> None:
        """Record ``jobs`` as queued, once the broker has confirmed them.

        ``idempotency_keys`` maps job id to key. Recording a job whose events were applied
        first fills in its payload and key but never moves its state back. Idempotent.
        """

    async def record_scheduled(
        self, jobs: Sequence[Job], idempotency_keys: Mapping[str, str] | None = None
    ) -> None:
        """Record delayed jobs (each with its ``run_at``) as ``scheduled``: committed when this
        returns, they wait here (not in the broker) until :meth:`promote_due` publishes them.
        A job recorded before is left as it is. Wakes the :meth:`watch_scheduled` callbacks.

        To schedule inside a transaction of one's own, call
        ``jobqueue.store.scheduled.record_scheduled(connection, jobs, queue)`` in it, then
        :meth:`scheduled_changed`.
        """

    def watch_scheduled(self, callback: Callable[[datetime], None]) -> None:
        """Have ``callback`` called with the earliest ``run_at`` of each batch scheduled here."""

    def scheduled_changed(self, earliest: datetime) -> None:
        """Call the :meth:`watch_scheduled` callbacks: jobs due at ``earliest`` were scheduled."""

    async def next_run_at(self) -> datetime | None:
        """The earliest ``run_at`` of the scheduled jobs waiting, or None when none waits."""

    async def scheduled_count(self) -> int:
        """How many scheduled jobs wait."""

    async def promote_due(
        self, publish: Callable[[builtins.list[Job]], Awaitable[None]], limit: int = 500
    ) -> builtins.list[DueJob]:
        """Hand up to ``limit`` due jobs (earliest first) to ``publish`` and mark them queued,
        in one transaction: concurrent callers (other replicas) never get the same job; if
        ``publish`` raises nothing changes; a crash after it returned publishes them again.
        Returns the jobs handed over, each with its ``run_at``."""

    async def claim_unique_keys(
        self, claims: Sequence[UniqueClaim]
    ) -> builtins.list[UniqueOutcome]:
        """Claim each unique key for its new job, or learn the job that still holds it (see
        :mod:`jobqueue.store.unique`); racing callers: one job per key."""

    async def release_unique_keys(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Give back ``(key, job_id)`` claims whose jobs were not accepted after all."""

    async def record_requeued(self, jobs: Sequence[Job]) -> None:
        """Put ``jobs`` (dead jobs replayed) back to queued with their attempts reset.

        Their history is kept and gets a ``requeued`` entry; a job never recorded is created.
        """

    async def apply_events(self, events: Sequence[JobEvent]) -> int:
        """Apply workers' events in one transaction; returns how many were new.

        An event whose ``event_id`` was seen before is ignored. Every new event joins its job's
        history; it changes the job's state only as :mod:`jobqueue.store.events` rules (a late
        or out-of-order event never moves a job back). An event for a job never recorded
        creates its record. Events of the store's own kinds raise ``ValueError``.
        """

    async def get(self, job_id: str) -> JobRecord | None:
        """The job's record, or None for an id never recorded."""

    async def list(
        self,
        state: JobState | None = None,
        type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        id_prefix: str | None = None,
    ) -> Page:
        """Jobs newest first (by ``created_at``, then id), filtered by state and type, by
        submission time (``since`` included, ``until`` not) and by id prefix (a whole id: one).

        ``cursor`` is an opaque ``next_cursor`` from a previous page; pages stay stable when
        jobs are added meanwhile. Raises ``InvalidCursor`` for a cursor not made here.
        """

    async def job_ids(self, job_filter: JobFilter, limit: int) -> builtins.list[str]:
        """The ids of the jobs :meth:`list` would show for ``job_filter``, at most ``limit``,
        in its order (newest first)."""

    async def request_cancels(self, job_ids: Sequence[str]) -> builtins.list[JobRecord]:
        """Cancel each job as :meth:`request_cancel` does; returns the records of the jobs this
        call cancelled or asked to stop (unknown, finished and already asked ones left out)."""

    async def delete_finished(self, job_ids: Sequence[str]) -> int:
        """Delete those of ``job_ids`` that are finished (succeeded, dead, cancelled) with their
        history; returns how many. Queued, retrying and running jobs are left. The job counts
        keep them."""

    async def events(self, job_id: str) -> builtins.list[JobEvent]:
        """The job's history, oldest first (by ``at``, then position); empty when unknown."""

    async def request_cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a job: a queued or retrying one becomes ``cancelled`` at once; a running
        one gets ``cancel_requested`` (its handler sees it and stops); a finished one is left
        as it is. Returns the record afterwards, or None for an unknown id.
        """

    async def is_cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        """Which of ``job_ids`` have been asked to cancel (or were cancelled) — for workers."""

    async def purge_finished(self, older_than_s: float) -> int:
        """Delete jobs finished more than ``older_than_s`` ago, with their history, and the
        idempotency keys and audit entries older than that; returns how many jobs were
        deleted. Job counts older than that are kept, folded together, so totals never drop."""

    async def job_totals(self) -> builtins.list[JobTotal]:
        """How many jobs of each queue and type were submitted and had each outcome (succeeded,
        failed (an attempt), retried, dead, cancelled), ever, by queue, type and outcome.

        Counted in the transactions that record submissions, apply events and cancel, so an
        event applied twice counts once, and every replica reads the same totals.
        """

    async def job_counts(self, since: datetime, bucket_s: float = 60.0) -> builtins.list[JobCount]:
        """Job counts per outcome (all queues and types) in buckets of ``bucket_s`` seconds
        (rounded to whole minutes, at least one) from the minute of ``since``, oldest first;
        empty buckets are left out. A count is filed under its event's (or submission's)
        minute."""

    async def job_timings(self, since: datetime | None = None) -> builtins.list[JobTiming]:
        """Histogram buckets of how long jobs waited (submission to first start: ``wait``)
        and ran (each attempt: ``run``), by queue, type and bucket, summed over all time or
        over the minutes since ``since``."""

    async def record_depth(
        self, queue: str, depth: Mapping[str, int], at: datetime | None = None
    ) -> None:
        """File a sample of ``queue``'s depth (state → jobs) for the minute of ``at`` (now);
        a later sample of the same minute replaces it. Kept two days."""

    async def depth_series(
        self, queue: str, since: datetime, bucket_s: float = 60.0
    ) -> builtins.list[DepthPoint]:
        """``queue``'s depth per state in buckets of ``bucket_s`` seconds (whole minutes) from
        the minute of ``since``, oldest first; each bucket its highest sample."""

    async def state_counts(self) -> dict[JobState, int]:
        """How many jobs the store holds in each state, every state present."""

    async def add_token(self, record: TokenRecord) -> None:
        """Store an API token (its hash); ``TokenExists`` when one of that name exists, even
        revoked: a name is never reused, so the audit log's names stay unambiguous."""

    async def tokens(self) -> builtins.list[TokenRecord]:
        """Every API token, revoked ones too, by name."""

    async def revoke_token(self, name: str) -> bool:
        """Revoke the named token now; False when no active token has that name."""

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append admin actions to the audit log (an entry id seen before is ignored)."""

    async def audit(
        self, limit: int = 50, cursor: str | None = None, actor: str | None = None
    ) -> AuditPage:
        """The audit log newest first, paged like :meth:`list` (``InvalidCursor`` for a
        cursor not made here), of one ``actor`` (token name) if given."""

    async def reserve_idempotency_key(
        self,
        key: str,
        body_hash: str,
        job_id: str,
        in_flight_timeout_s: float = DEFAULT_IN_FLIGHT_TIMEOUT_S,
    ) -> IdempotencyOutcome:
        """Reserve ``key`` for a submission of ``job_id`` whose body hashes to ``body_hash``.

        Exactly one of several concurrent callers gets ``NEW``. Later callers get
        ``EXISTING`` (same body, key confirmed: answer the original job), ``CONFLICT``
        (different body) or ``IN_FLIGHT`` (same body, not yet confirmed). A reservation left
        unconfirmed for ``in_flight_timeout_s`` is taken over as ``NEW`` — unless its job was
        recorded meanwhile, which makes it ``EXISTING``.
        """

    async def confirm_idempotency_key(self, key: str, job_id: str | None = None) -> None:
        """The job reserved under ``key`` was accepted: later submissions get ``EXISTING``.

        With ``job_id``, only a reservation still held for that job is confirmed.
        """

    async def release_idempotency_key(self, key: str, job_id: str | None = None) -> None:
        """The submission under ``key`` failed: forget the reservation so a retry is ``NEW``.

        A confirmed key is kept. With ``job_id``, only a reservation still held for that job
        is released (one taken over by another submission is left alone).
        """

    async def apply_limits(self, ops: Sequence[LimitOp]) -> builtins.list[Grant]:
        """Apply fleet-wide limit steps in order, in one transaction: acquisitions (a slot and
        a start, both or neither; see :mod:`jobqueue.limits.backend`), releases, renewals.
        Each acquisition's grant (``GRANTED`` for the other steps), atomically across the
        replicas sharing the store."""


def default_store_url(broker_url: str) -> str:
    """The store beside the broker: for the embedded broker ``sqlite:///dir/name.db``, the
    SQLite file ``dir/name-state.db`` next to it; else ``jobqueue-state.db`` in the working
    directory.

    Not the broker's own file: the store's transactions (hundreds of events at a time) would
    hold the file's one write lock, which every claim and ack of the broker also needs. Apart,
    a drain with status events runs about twice as fast.
    """
    scheme, sep, rest = broker_url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        return DEFAULT_STORE_URL
    stem, dot, suffix = rest.rpartition(".")
    if not dot or "/" in suffix:
        return f"{scheme}://{rest}-state"
    return f"{scheme}://{stem}-state.{suffix}"


def from_url(url: str, queue: str = QUEUE, counting: bool = True) -> Store:
    """Build the store a URL names: ``sqlite:///path.db`` or ``postgresql://user@host/db``.

    A PostgreSQL URL may carry ``?schema=name`` to keep the tables in that schema. ``queue``
    is the queue whose submissions and events this store's job counts are filed under;
    ``counting`` off, none are counted (the metrics switched off).
    """
    from jobqueue.store.engine import parse_url

    target = parse_url(url)
    if target.dialect == "sqlite":
        from jobqueue.store.sql import SqliteStore

        return SqliteStore(target, queue, counting)
    if target.dialect == "postgresql":
        from jobqueue.store.sql import PostgresStore

        return PostgresStore(target, queue, counting)
    raise ConfigError(f"unsupported store dialect {target.dialect!r}")  # pragma: no cover
