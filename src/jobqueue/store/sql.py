"""The SQL stores: one implementation of the queries, for SQLite and PostgreSQL.

Every public method is one short transaction running a plain function of a SQLAlchemy
``Connection`` (the modules ``queries``, ``writes``, ``apply``, ``idempotency``). How that
function runs is the backend's business: on PostgreSQL inside asyncpg's event-loop connection
(``run_sync``); on SQLite as a whole in a pool thread. Writes on SQLite begin ``IMMEDIATE`` (they
take the write lock up front and wait ``busy_timeout`` for it instead of failing half way); on
PostgreSQL a transaction that loses a deadlock or serialisation race is run again. Driver errors
become the project's own in exactly one place, :meth:`SqlStore._run`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from jobqueue.auth.records import AuditEntry, AuditPage, TokenRecord
from jobqueue.brokers import redact_text
from jobqueue.config import QUEUE
from jobqueue.errors import StoreUnavailable
from jobqueue.job import Job, JobState
from jobqueue.limits import sql as limit_sql
from jobqueue.limits.backend import Grant, LimitOp
from jobqueue.store import (
    apply,
    audit_log,
    bulk,
    counts,
    credentials,
    depths,
    idempotency,
    migrate,
    queries,
    scheduled,
    selection,
    timings,
    unique,
    writes,
)
from jobqueue.store.depths import DepthPoint
from jobqueue.store.engine import WRITE_OPTION, StoreTarget, postgres_engine, sqlite_engine
from jobqueue.store.events import JobEvent, utc_now
from jobqueue.store.group import GroupCommit
from jobqueue.store.scheduled import DueJob
from jobqueue.store.selection import JobFilter
from jobqueue.store.timings import JobTiming
from jobqueue.store.values import DEFAULT_IN_FLIGHT_TIMEOUT_S, IdempotencyOutcome, JobRecord, Page

log = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[sa.Connection], T]
_RETRIES = 3
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
_MIGRATION_LOCK_ID = 0x6A6F6271  # pg_advisory_xact_lock key shared by every replica
_PURGE_CHUNK = 500  # jobs per purge transaction, so the write lock is never held long
_SQLITE_THREADS = 4


class SqlStore:
    """The :class:`jobqueue.store.Store` on a SQL database; use a dialect's subclass."""

    def __init__(self, target: StoreTarget, queue: str = QUEUE, counting: bool = True) -> None:
        self._target = target
        # The queue whose submissions and events are counted here (None: no counting).
        self._queue: str | None = queue if counting else None
        self._tally = counts.SubmissionTally(queue) if counting else None
        self._open = False
        self._submissions = GroupCommit[tuple[Job, str | None]](self._record_submitted)
        self._schedule_watchers: builtins.list[Callable[[datetime], None]] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target.display_url!r})"

    async def connect(self) -> None:
        """Create the engine and check that the database answers."""
        if not self._open:
            self._start()
            self._open = True
        try:
            await self._run(_ping, write=False)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Write the submission counts still held, then release every connection (after the
        transactions in progress end)."""
        if self._open:
            with contextlib.suppress(StoreUnavailable):
                await self._flush_tally()
            self._open = False
            await self._stop()

    async def upgrade(self) -> None:
        """Migrate the schema to the newest revision, serialised with other processes."""
        await self._run(self._upgrade, write=True)

    def _upgrade(self, connection: sa.Connection) -> None:
        # On SQLite, BEGIN IMMEDIATE already holds the write lock: other upgrades queue behind.
        migrate.upgrade_to_head(connection)

    async def schema_version(self) -> str | None:
        """The applied schema revision, or None."""
        return await self._run(migrate.current_revision, write=False)

    async def is_ready(self) -> bool:
        """Whether a trivial query succeeds now."""
        try:
            await self._run(_ping, write=False)
        except StoreUnavailable:
            return False
        return True

    async def record_submitted(
        self, jobs: Sequence[Job], idempotency_keys: Mapping[str, str] | None = None
    ) -> None:
        """Record accepted jobs as queued (concurrent calls share transactions)."""
        keys = idempotency_keys or {}
        if jobs:
            await self._submissions.add([(job, keys.get(job.id)) for job in jobs])

    async def _record_submitted(self, submitted: builtins.list[tuple[Job, str | None]]) -> None:
        rows = self._tallied(submitted)
        try:
            await self._run(
                lambda c: writes.record_submitted(c.dialect, c.connection, submitted, rows),
                write=True,
            )
        except BaseException:
            self._untally(rows)
            raise

    def _tallied(self, submitted: builtins.list[tuple[Job, str | None]]) -> list[counts.Row]:
        """Count the submissions; the counts to write with them now, if it is time."""
        if self._tally is None:
            return []
        jobs = {job.id: job for job, _ in submitted}.values()
        minute = counts.minute_of_text
        return self._tally.collect((minute(job.created_at), job.type) for job in jobs)

    def _untally(self, rows: list[counts.Row]) -> None:
        if self._tally is not None:
            self._tally.restore(rows)

    async def _flush_tally(self) -> None:
        """Write the submission counts held in memory."""
        rows = [] if self._tally is None else self._tally.take()
        if rows:
            try:
                await self._run(lambda c: counts.add_on(c, rows), write=True)
            except BaseException:
                self._untally(rows)
                raise

    async def record_scheduled(
        self, jobs: Sequence[Job], idempotency_keys: Mapping[str, str] | None = None
    ) -> None:
        """Record delayed jobs as scheduled (committed when this returns); wakes the watchers."""
        if not jobs:
            return
        await self._run(
            lambda c: scheduled.record_scheduled(c, jobs, self._queue, idempotency_keys),
            write=True,
        )
        self.scheduled_changed(min(scheduled.run_at_of(job) for job in jobs))

    def watch_scheduled(self, callback: Callable[[datetime], None]) -> None:
        """Call ``callback`` with the earliest ``run_at`` whenever jobs are scheduled here."""
        self._schedule_watchers.append(callback)

    def scheduled_changed(self, earliest: datetime) -> None:
        """Tell the watchers that jobs due at ``earliest`` (or later) were scheduled, e.g. by a
        transaction of another module that called :func:`scheduled.record_scheduled`."""
        for callback in self._schedule_watchers:
            callback(earliest)

    async def next_run_at(self) -> datetime | None:
        """The earliest due time of a scheduled job, or None."""
        return await self._run(scheduled.next_run_at, write=False)

    async def scheduled_count(self) -> int:
        """How many scheduled jobs wait."""
        return await self._run(scheduled.waiting_count, write=False)

    async def promote_due(
        self, publish: Callable[[builtins.list[Job]], Awaitable[None]], limit: int = 500
    ) -> builtins.list[DueJob]:
        """Claim up to ``limit`` due jobs, ``publish`` them, mark them queued, commit."""
        now = utc_now()
        due: builtins.list[DueJob] = []

        def claim(connection: sa.Connection) -> None:
            due.extend(scheduled.claim_due(connection, now, limit))

        async def hand_over() -> None:
            if due:
                await publish([item.job for item in due])

        await self._holding(claim, hand_over, lambda c: scheduled.mark_promoted(c, due))
        return due

    async def _holding(
        self, before: Work[None], between: Callable[[], Awaitable[None]], after: Work[None]
    ) -> None:
        """Run ``before``, await ``between``, run ``after``, in one write transaction."""
        raise NotImplementedError

    async def claim_unique_keys(
        self, claims: Sequence[unique.UniqueClaim]
    ) -> builtins.list[unique.UniqueOutcome]:
        """Claim unique keys for new jobs; see :mod:`jobqueue.store.unique`."""
        if not claims:
            return []
        return await self._run(lambda c: unique.claim(c, claims), write=True)

    async def release_unique_keys(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Give back keys (``(key, job_id)``) whose jobs were not accepted."""
        if pairs:
            await self._run(lambda c: unique.release(c, pairs), write=True)

    async def record_requeued(self, jobs: Sequence[Job]) -> None:
        """Put replayed jobs back to queued."""
        await self._run(lambda c: writes.record_requeued(c, jobs), write=True)

    async def apply_events(self, events: Sequence[JobEvent]) -> int:
        """Apply a batch of events in one transaction; returns how many were new."""
        if not events:
            return 0
        return await self._run(lambda c: apply.apply_events(c, events, self._queue), write=True)

    async def get(self, job_id: str) -> JobRecord | None:
        """One job's record."""
        return await self._run(lambda c: queries.get(c, job_id), write=False)

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
        """A page of records, newest first."""
        more = JobFilter(since=since, until=until, id_prefix=id_prefix)
        return await self._run(
            lambda c: queries.list_page(c, state, type, limit, cursor, more), write=False
        )

    async def job_ids(self, job_filter: JobFilter, limit: int) -> builtins.list[str]:
        """The ids of the newest ``limit`` jobs matching ``job_filter``."""
        return await self._run(lambda c: selection.matching_ids(c, job_filter, limit), write=False)

    async def request_cancels(self, job_ids: Sequence[str]) -> builtins.list[JobRecord]:
        """Cancel many jobs, a chunk of them per transaction."""
        changed: builtins.list[JobRecord] = []
        for chunk in bulk.chunks(job_ids):
            cancel = functools.partial(bulk.request_cancels, job_ids=chunk, queue=self._queue)
            changed += await self._run(cancel, write=True)
        return changed

    async def delete_finished(self, job_ids: Sequence[str]) -> int:
        """Delete finished jobs by id, a chunk per transaction."""
        deleted = 0
        for chunk in bulk.chunks(job_ids):
            delete = functools.partial(bulk.delete_finished, job_ids=chunk)
            deleted += await self._run(delete, write=True)
        return deleted

    async def events(self, job_id: str) -> builtins.list[JobEvent]:
        """A job's history, oldest first."""
        return await self._run(lambda c: queries.history(c, job_id), write=False)

    async def request_cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a waiting job or flag a running one."""
        return await self._run(lambda c: queries.request_cancel(c, job_id, self._queue), write=True)

    async def is_cancel_requested(self, job_ids: Sequence[str]) -> set[str]:
        """The ids, among ``job_ids``, asked to cancel."""
        if not job_ids:
            return set()
        return await self._run(lambda c: queries.cancel_requested(c, job_ids), write=False)

    async def purge_finished(self, older_than_s: float) -> int:
        """Delete what finished before the retention period, in short transactions."""
        cutoff = utc_now() - timedelta(seconds=older_than_s)
        purged = 0
        while True:
            jobs, keys = await self._run(
                lambda c: queries.purge_some(c, cutoff, _PURGE_CHUNK), write=True
            )
            purged += jobs
            if jobs < _PURGE_CHUNK and keys < _PURGE_CHUNK:
                break
        while (
            await self._run(lambda c: audit_log.purge_before(c, cutoff, _PURGE_CHUNK), write=True)
            == _PURGE_CHUNK
        ):
            pass
        while (
            await self._run(lambda c: unique.purge_before(c, cutoff, _PURGE_CHUNK), write=True)
            == _PURGE_CHUNK
        ):
            pass
        await self._run(lambda c: _fold_before(c, cutoff), write=True)
        return purged

    async def job_totals(self) -> builtins.list[counts.JobTotal]:
        """Every job count, summed over time (the submissions held in memory written first)."""
        await self._flush_tally()
        return await self._run(counts.totals, write=False)

    async def job_counts(
        self, since: datetime, bucket_s: float = 60.0
    ) -> builtins.list[counts.JobCount]:
        """Job counts per outcome in buckets since ``since``."""
        await self._flush_tally()
        return await self._run(lambda c: counts.series(c, since, bucket_s), write=False)

    async def job_timings(self, since: datetime | None = None) -> builtins.list[JobTiming]:
        """Wait and run time buckets, summed over all time or since ``since``."""
        return await self._run(lambda c: timings.totals(c, since), write=False)

    async def record_depth(
        self, queue: str, depth: Mapping[str, int], at: datetime | None = None
    ) -> None:
        """File a sample of ``queue``'s depth by state."""
        moment = at or utc_now()
        await self._run(lambda c: depths.record(c, moment, queue, depth), write=True)

    async def depth_series(
        self, queue: str, since: datetime, bucket_s: float = 60.0
    ) -> builtins.list[DepthPoint]:
        """``queue``'s depth samples per state in buckets since ``since``."""
        return await self._run(lambda c: depths.series(c, queue, since, bucket_s), write=False)

    async def state_counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        return await self._run(queries.state_counts, write=False)

    async def add_token(self, record: TokenRecord) -> None:
        """Store an API token's hash."""
        await self._run(lambda c: credentials.insert(c, record), write=True)

    async def tokens(self) -> builtins.list[TokenRecord]:
        """Every API token."""
        return await self._run(credentials.all_tokens, write=False)

    async def revoke_token(self, name: str) -> bool:
        """Revoke a token by name."""
        return await self._run(lambda c: credentials.revoke(c, name, utc_now()), write=True)

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append to the audit log."""
        if entries:
            await self._run(lambda c: audit_log.append(c, entries), write=True)

    async def audit(
        self, limit: int = 50, cursor: str | None = None, actor: str | None = None
    ) -> AuditPage:
        """A page of the audit log."""
        return await self._run(lambda c: audit_log.page(c, limit, cursor, actor), write=False)

    async def reserve_idempotency_key(
        self,
        key: str,
        body_hash: str,
        job_id: str,
        in_flight_timeout_s: float = DEFAULT_IN_FLIGHT_TIMEOUT_S,
    ) -> IdempotencyOutcome:
        """Reserve an idempotency key for a submission."""
        return await self._run(
            lambda c: idempotency.reserve(c, key, body_hash, job_id, in_flight_timeout_s),
            write=True,
        )

    async def confirm_idempotency_key(self, key: str, job_id: str | None = None) -> None:
        """Mark a reserved key's job as accepted."""
        await self._run(lambda c: idempotency.confirm(c, key, job_id), write=True)

    async def release_idempotency_key(self, key: str, job_id: str | None = None) -> None:
        """Forget an unconfirmed reservation."""
        await self._run(lambda c: idempotency.release(c, key, job_id), write=True)

    async def transaction(self, work: Work[T], *, write: bool = True) -> T:
        """Run ``work``, a function of a SQLAlchemy connection, in one transaction of this
        store (again after a lost race, errors translated): for modules with tables of their
        own, such as the cron schedules'."""
        return await self._run(work, write=write)

    async def apply_limits(self, ops: Sequence[LimitOp]) -> builtins.list[Grant]:
        """Apply limit steps in order, in one write transaction."""
        return await self._run(lambda c: limit_sql.apply_ops(c, ops), write=True)

    async def _run(self, work: Work[T], *, write: bool) -> T:
        """Run ``work`` in one transaction, again after a lost race, with errors translated."""
        if not self._open:
            raise StoreUnavailable(f"store {self._target.display_url} is not connected")
        for attempt in range(1, _RETRIES + 1):
            try:
                return await self._transaction(work, write)
            except DBAPIError as exc:
                if attempt < _RETRIES and _sqlstate(exc) in _RETRYABLE_SQLSTATES:
                    log.info("store transaction lost a race (%s); running it again", exc.orig)
                    continue
                raise self._translate(exc) from None
            except OSError as exc:
                raise self._unavailable(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(self, exc: DBAPIError) -> Exception:
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            return self._unavailable(exc.orig or exc)
        return exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = redact_text(reason, self._target.url)
        return StoreUnavailable(f"store {self._target.display_url} is unavailable: {reason}")

    def _start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError

    async def _transaction(self, work: Work[T], write: bool) -> T:
        raise NotImplementedError


class SqliteStore(SqlStore):
    """The store in a SQLite file (by default the embedded broker's), WAL mode.

    Each transaction runs whole in one of a few threads, so it costs the event loop one hand-off.
    """

    def _start(self) -> None:
        self._engine = sqlite_engine(self._target, pool_size=_SQLITE_THREADS)
        self._engines = {
            write: self._engine.execution_options(**{WRITE_OPTION: write})
            for write in (False, True)
        }
        self._executor = ThreadPoolExecutor(_SQLITE_THREADS, thread_name_prefix="jobqueue-store")
        # A held transaction (a promotion) runs on a thread of its own, one at a time: were it
        # to wait for a pool thread while submissions fill the pool waiting for its write lock,
        # both would wait out the busy timeout.
        self._holder = ThreadPoolExecutor(1, thread_name_prefix="jobqueue-store-hold")
        self._held = asyncio.Lock()

    async def _stop(self) -> None:
        await asyncio.to_thread(self._executor.shutdown)
        await asyncio.to_thread(self._holder.shutdown)
        self._engine.dispose()

    async def _transaction(self, work: Work[T], write: bool) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_transaction, work, write)

    def _in_transaction(self, work: Work[T], write: bool) -> T:
        with self._engines[write].begin() as connection:
            return work(connection)

    async def _holding(
        self, before: Work[None], between: Callable[[], Awaitable[None]], after: Work[None]
    ) -> None:
        if not self._open:
            raise StoreUnavailable(f"store {self._target.display_url} is not connected")
        async with self._held:
            await self._hold(before, between, after)

    async def _hold(
        self, before: Work[None], between: Callable[[], Awaitable[None]], after: Work[None]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            connection = await loop.run_in_executor(self._holder, self._engines[True].connect)
        except DBAPIError as exc:
            raise self._translate(exc) from None
        try:
            try:
                transaction = await loop.run_in_executor(self._holder, connection.begin)
                await loop.run_in_executor(self._holder, before, connection)
            except DBAPIError as exc:
                raise self._translate(exc) from None
            await between()  # its error is raised as it is
            try:
                await loop.run_in_executor(self._holder, after, connection)
                await loop.run_in_executor(self._holder, transaction.commit)
            except DBAPIError as exc:
                raise self._translate(exc) from None
        finally:
            await loop.run_in_executor(self._holder, connection.close)

    async def _record_submitted(self, submitted: builtins.list[tuple[Job, str | None]]) -> None:
        """The API's hot write, on a pooled sqlite3 connection without SQLAlchemy's transaction
        machinery (which costs several times the Python of the two statements themselves)."""
        if not self._open:
            raise StoreUnavailable(f"store {self._target.display_url} is not connected")
        loop = asyncio.get_running_loop()
        rows = self._tallied(submitted)
        try:
            await loop.run_in_executor(self._executor, self._record_in_transaction, submitted, rows)
        except BaseException:
            self._untally(rows)
            raise

    def _record_in_transaction(
        self, submitted: builtins.list[tuple[Job, str | None]], rows: list[counts.Row]
    ) -> None:
        pooled = self._engine.raw_connection()
        try:
            connection = pooled.driver_connection
            assert isinstance(connection, sqlite3.Connection)
            connection.execute("BEGIN IMMEDIATE")
            try:
                writes.record_submitted(self._engine.dialect, connection, submitted, rows)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.OperationalError | sqlite3.InterfaceError):
                raise self._unavailable(exc) from None
            raise
        finally:
            pooled.close()


class PostgresStore(SqlStore):
    """The store in PostgreSQL, shared by several API replicas."""

    def _start(self) -> None:
        self._engine = postgres_engine(self._target)

    async def _stop(self) -> None:
        await self._engine.dispose()

    async def _transaction(self, work: Work[T], write: bool) -> T:
        connection = await self._checkout(self._engine)
        try:
            async with connection.begin():
                return await connection.run_sync(work)
        finally:
            await connection.close()

    async def _holding(
        self, before: Work[None], between: Callable[[], Awaitable[None]], after: Work[None]
    ) -> None:
        if not self._open:
            raise StoreUnavailable(f"store {self._target.display_url} is not connected")
        connection = await self._checkout(self._engine)
        try:
            async with connection.begin():  # an error of ``between`` is raised as it is
                await self._step(connection.run_sync(before))
                await between()
                await self._step(connection.run_sync(after))
        finally:
            await connection.close()

    async def _step(self, step: Awaitable[None]) -> None:
        """Await one statement step of a held transaction, its errors translated."""
        try:
            await step
        except DBAPIError as exc:
            raise self._translate(exc) from None
        except OSError as exc:
            raise self._unavailable(exc) from None

    async def _checkout(self, engine: AsyncEngine) -> AsyncConnection:
        """A pooled connection; any failure to get one means the store is unavailable."""
        connection = engine.connect()
        try:
            await connection.start()
        except (DBAPIError, OSError) as exc:
            cause = (exc.orig or exc) if isinstance(exc, DBAPIError) else exc
            raise self._unavailable(cause) from None
        return connection

    def _upgrade(self, connection: sa.Connection) -> None:
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_ID)))
        if self._target.schema is not None:
            connection.execute(sa.schema.CreateSchema(self._target.schema, if_not_exists=True))
        migrate.upgrade_to_head(connection)


def _ping(connection: sa.Connection) -> None:
    connection.execute(sa.text("SELECT 1"))


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


DEPTH_HISTORY = timedelta(days=2)
"""How long queue depth samples are kept (the dashboard charts the last 24 hours)."""


def _fold_before(connection: sa.Connection, cutoff: datetime) -> None:
    """Fold the counts and time buckets before ``cutoff``; drop old depth samples."""
    counts.fold_before(connection, cutoff)
    timings.fold_before(connection, cutoff)
    depths.delete_before(connection, min(cutoff, utc_now() - DEPTH_HISTORY))
