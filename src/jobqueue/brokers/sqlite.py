"""The embedded broker: job queues as rows of one SQLite file that many processes share.

URL: ``sqlite:///relative/path.db`` (relative to the working directory) or
``sqlite:////absolute/path.db``; the directory is created if missing. Several queues may share
a file: every row carries its queue name.

At-least-once through leases. A consumer claims a row by writing its lease (owner and expiry)
in a ``BEGIN IMMEDIATE`` transaction; while the broker lives, a background task extends the
leases of its unsettled deliveries every ``lease_s / 3``. A consumer that dies (even
``kill -9``) stops extending, so its rows become claimable again once their leases expire and
are delivered with ``redelivered=True``. ``close()`` and ``release()`` hand rows back at once.

All SQLite work runs in one thread per broker (``sqlite_store.connection``); new work is noticed
at once when this broker object published it, and within a millisecond when another process
did (it rings the file's doorbell, ``sqlite_store.doorbell``, which ``sqlite_store.watch``
sleeps on through inotify; elsewhere it polls); delayed rows are claimed when their time comes.
Among the rows due, a claim takes the highest priority first, and within one the earliest due,
then the first inserted (``sqlite_store.schema`` has the index that makes this a seek).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence

from jobqueue.brokers import DeadJob, Death, Delivery, QueueDepth
from jobqueue.brokers.sqlite_store import dead
from jobqueue.brokers.sqlite_store import jobs as rows
from jobqueue.brokers.sqlite_store.connection import Database
from jobqueue.brokers.sqlite_store.consumer import Consumer
from jobqueue.brokers.sqlite_store.doorbell import Doorbell
from jobqueue.brokers.sqlite_store.jobs import Lease
from jobqueue.brokers.sqlite_store.leases import Leases, lease_of
from jobqueue.brokers.sqlite_store.url import database_path
from jobqueue.brokers.sqlite_store.watch import CommitWatcher
from jobqueue.errors import BrokerError, ConfigError
from jobqueue.job import Job

log = logging.getLogger(__name__)

Settlement = Callable[[sqlite3.Connection, str, Lease], bool]

DEFAULT_LEASE_S = 30.0
DEFAULT_POLL_INTERVAL_S = 0.005
_REPLAY_BATCH = 500


class SqliteBroker:
    """A :class:`~jobqueue.brokers.Broker` on a SQLite file in WAL mode.

    ``lease_s`` is how long a dead consumer's jobs stay invisible before they are delivered
    again. ``poll_interval_s`` is, where Linux inotify is not available, the longest pause
    between checks for jobs committed by other processes while a consumer waits for work: its
    worst-case pick-up latency, traded against idle CPU (see ``sqlite_store.watch``).
    """

    def __init__(
        self,
        url: str,
        queue: str = "jobs",
        max_redeliveries: int = 5,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    ) -> None:
        _check_settings(queue, max_redeliveries, lease_s, poll_interval_s)
        self.url = url
        self.queue = queue
        self.max_redeliveries = max_redeliveries
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self._db = Database(database_path(url))
        self._doorbell = Doorbell(self._db.path)
        self._leases = Leases(
            self._db,
            queue,
            lease_s=lease_s,
            max_redeliveries=max_redeliveries,
            on_release=self._doorbell.ring,
        )
        self._consumers: set[Consumer] = set()
        self._watcher = CommitWatcher(
            self._db.path, queue, self._nudge_all_threadsafe, poll_interval_s=poll_interval_s
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"SqliteBroker({self.url!r}, queue={self.queue!r})"

    async def connect(self) -> None:
        """Open the file (creating it and its tables if missing) and start the lease keeper."""
        if self._db.is_open:
            return
        await self._db.open()
        self._loop = asyncio.get_running_loop()
        self._doorbell.open()
        self._watcher.start()
        self._leases.start()

    async def close(self) -> None:
        """Stop consuming, hand unsettled deliveries back to the queue, close the file."""
        await self.stop_consuming()
        await self._leases.stop()
        await asyncio.to_thread(self._watcher.close)
        self._doorbell.close()
        await self._db.close()

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Store the jobs in one transaction that survives power loss (``synchronous=FULL``)."""
        if not jobs:
            return
        messages = [rows.message(job) for job in jobs]
        await self._db.write(
            lambda conn: rows.insert(conn, self.queue, messages, time.time()), durable=True
        )
        self._announce()

    def skip_types(self, job_types: Collection[str]) -> None:
        """Claim no rows of ``job_types`` from now on (other consumers serve them; a worker
        passes the types that other live workers serve and it does not)."""
        self._leases.skip_types = tuple(sorted(job_types))

    def deliveries(self, prefetch: int) -> AsyncIterator[Delivery]:
        """Yield claimed deliveries, at most ``prefetch`` unsettled, until stop_consuming."""
        if prefetch < 1:
            raise ConfigError(f"prefetch must be at least 1, got {prefetch}")
        consumer = Consumer(
            self._leases, prefetch, watch=self._watcher, on_finish=self._consumers.discard
        )
        self._consumers.add(consumer)
        return consumer.run()

    async def stop_consuming(self) -> None:
        """End every deliveries() iterator of this broker; yielded deliveries stay settleable."""
        for consumer in list(self._consumers):
            consumer.stop()

    async def ack(self, delivery: Delivery) -> None:
        """Delete the job (if this broker still holds its lease)."""
        await self._settle("ack", delivery, rows.ack)

    async def retry(self, delivery: Delivery, job: Job, delay_s: float) -> None:
        """Replace the job by ``job`` due in exactly ``delay_s``, in one transaction."""
        delay_s = max(0.0, delay_s)

        def replace(conn: sqlite3.Connection, owner: str, lease: Lease) -> bool:
            return rows.retry(conn, owner, lease, job, time.time() + delay_s)

        await self._settle("retry", delivery, replace)
        self._announce()

    async def dead_letter(self, delivery: Delivery, death: Death, job: Job | None = None) -> None:
        """Move the job (as ``job`` encodes it, if given) to the dead table with ``death``, in
        one transaction."""
        body = None if job is None else job.encode()
        await self._settle(
            "dead-letter", delivery, functools.partial(rows.dead_letter, death=death, body=body)
        )

    async def release(self, delivery: Delivery) -> None:
        """Make the job claimable again now; this does not count as a failed delivery."""

        def hand_back(conn: sqlite3.Connection, owner: str, lease: Lease) -> bool:
            return rows.release(conn, owner, [lease], time.time()) == 1

        await self._settle("release", delivery, hand_back)
        self._announce()

    async def is_ready(self) -> bool:
        """Whether the file is open and answers a query."""
        if not self._db.is_open:
            return False
        try:
            await self._db.read(lambda conn: conn.execute("SELECT 1").fetchone())
        except BrokerError:
            return False
        return True

    async def depth(self) -> QueueDepth:
        """Ready (claimable now, expired leases included), delayed and dead counts."""

        def count(conn: sqlite3.Connection) -> QueueDepth:
            ready, delayed = rows.counts(conn, self.queue, time.time())
            return QueueDepth(ready=ready, delayed=delayed, dead=dead.count(conn, self.queue))

        return await self._db.read(count)

    async def dead_jobs(self, limit: int = 100) -> list[DeadJob]:
        """The oldest ``limit`` dead jobs, oldest first."""
        return await self._db.read(lambda conn: dead.oldest(conn, self.queue, max(0, limit)))

    async def dead_job(self, message_id: str) -> DeadJob | None:
        """The oldest dead job with this id, or None."""
        return await self._db.read(lambda conn: dead.find(conn, self.queue, message_id))

    async def replay(self, message_id: str) -> Job | None:
        """Move the oldest dead copy back to the queue with attempts reset, in one transaction."""
        job = await self._db.write(
            lambda conn: dead.replay(conn, self.queue, message_id, time.time())
        )
        if job is not None:
            self._announce()
        return job

    async def replay_all(self) -> int:
        """Replay every decodable dead job, a batch per transaction; returns how many."""
        total, after_seq = 0, 0
        while True:

            def batch(
                conn: sqlite3.Connection, after_seq: int = after_seq
            ) -> tuple[int, int | None]:
                return dead.replay_batch(conn, self.queue, after_seq, time.time(), _REPLAY_BATCH)

            replayed, last_seq = await self._db.write(batch)
            total += replayed
            if replayed:
                self._announce()
            if last_seq is None:
                return total
            after_seq = last_seq

    async def purge_dead(self) -> int:
        """Delete every dead job of the queue; returns how many."""
        return await self._db.write(lambda conn: dead.purge(conn, self.queue))

    async def replay_ids(self, message_ids: Collection[str]) -> list[Job]:
        """Replay the dead copies of ``message_ids`` that are jobs, a chunk per transaction."""
        replayed: list[Job] = []
        for chunk in _chunks(message_ids):

            def batch(conn: sqlite3.Connection, chunk: list[str] = chunk) -> list[Job]:
                return dead.replay_ids(conn, self.queue, chunk, time.time())

            jobs = await self._db.write(batch)
            if jobs:
                self._announce()
            replayed += jobs
        return replayed

    async def purge_dead_ids(self, message_ids: Collection[str]) -> int:
        """Delete the dead copies of ``message_ids``, a chunk per transaction."""
        purged = 0
        for chunk in _chunks(message_ids):

            def batch(conn: sqlite3.Connection, chunk: list[str] = chunk) -> int:
                return dead.purge_ids(conn, self.queue, chunk)

            purged += await self._db.write(batch)
        return purged

    # Internals.

    async def _settle(self, what: str, delivery: Delivery, operation: Settlement) -> None:
        lease, owner = lease_of(delivery), self._leases.owner
        try:
            held = await self._db.write(lambda conn: operation(conn, owner, lease))
        finally:
            # Even when the write failed: the lease is no longer extended, so the row comes
            # back after it expires, as a message does when a connection drops.
            self._leases.forget(lease)
            for consumer in self._consumers:
                consumer.settled(lease)
        if not held:
            log.warning(
                "%s of job %s had no effect: its lease had expired and another consumer "
                "took the job",
                what,
                delivery.message_id,
            )

    def _announce(self) -> None:
        """Rows may have become due: tell this broker's consumers, and ring for the others."""
        self._nudge_all()
        self._doorbell.ring()

    def _nudge_all(self) -> None:
        for consumer in self._consumers:
            consumer.nudge()

    def _nudge_all_threadsafe(self) -> None:
        """``_nudge_all`` from the watcher's thread."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(self._nudge_all)


def _check_settings(
    queue: str, max_redeliveries: int, lease_s: float, poll_interval_s: float
) -> None:
    if not queue:
        raise ConfigError("the queue name must not be empty")
    if max_redeliveries < 0:
        raise ConfigError(f"max_redeliveries must be 0 or more, got {max_redeliveries}")
    if lease_s <= 0:
        raise ConfigError(f"lease_s must be positive, got {lease_s}")
    if poll_interval_s <= 0:
        raise ConfigError(f"poll_interval_s must be positive, got {poll_interval_s}")


def _chunks(message_ids: Collection[str]) -> list[list[str]]:
    """The distinct ids in order, in lists of at most ``dead.IDS_PER_STATEMENT``."""
    unique = list(dict.fromkeys(message_ids))
    size = dead.IDS_PER_STATEMENT
    return [unique[start : start + size] for start in range(0, len(unique), size)]
