"""The leases one broker holds: claimed in batches, kept alive in the background, handed back.

A lease is only as good as its holder's liveness: while the broker lives, a task pushes the
expiry of every unsettled delivery ``lease_s`` ahead, every ``lease_s / 3``. When the process
dies nothing extends them, and the rows come back once the leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable

from jobqueue.brokers import Delivery
from jobqueue.brokers.sqlite_store import jobs as rows
from jobqueue.brokers.sqlite_store.connection import Database, Session
from jobqueue.brokers.sqlite_store.jobs import Lease
from jobqueue.errors import BrokerError

log = logging.getLogger(__name__)


def lease_of(delivery: Delivery) -> Lease:
    """The lease a SQLite delivery carries as its token."""
    if not isinstance(delivery.token, Lease):
        raise BrokerError(f"delivery of job {delivery.message_id} is not from a SQLite broker")
    return delivery.token


class Leases:
    """Claims rows of one queue for one owner and keeps them until settled or handed back.

    ``on_release`` is called after rows were handed back (they are due again at once).
    """

    def __init__(
        self,
        db: Database,
        queue: str,
        *,
        lease_s: float,
        max_redeliveries: int,
        on_release: Callable[[], None] = lambda: None,
    ) -> None:
        self.owner = uuid.uuid4().hex
        self._on_release = on_release
        self._db = db
        self._queue = queue
        self._lease_s = lease_s
        self._max_redeliveries = max_redeliveries
        self._held: dict[int, Lease] = {}
        self.skip_types: tuple[str, ...] = ()  # job types left to other consumers
        self._keeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start extending held leases in the background."""
        self._keeper = asyncio.create_task(self._keep(), name="jobqueue-sqlite-leases")

    async def stop(self) -> None:
        """Stop extending, and hand every held row back to the queue."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        held, self._held = list(self._held.values()), {}
        await self._release(held)

    async def claim(self, limit: int) -> tuple[list[Delivery], float | None]:
        """Claim up to ``limit`` due rows; with none, also when the next one is due."""
        claimed, due_at = await self._db.run(functools.partial(self._claim_here, limit))
        for row in claimed:
            self._held[row.lease.seq] = row.lease
        deliveries = [
            Delivery(r.message_id, r.body, r.redelivered, r.lease, r.death, r.headers)
            for r in claimed
        ]
        return deliveries, due_at

    async def hand_back(self, deliveries: list[Delivery]) -> None:
        """Release deliveries that were claimed but never handed to the application."""
        leases = [lease_of(delivery) for delivery in deliveries]
        for lease in leases:
            self.forget(lease)
        await self._release(leases)

    def forget(self, lease: Lease) -> None:
        """Stop extending a lease (its delivery was settled)."""
        self._held.pop(lease.seq, None)

    def _claim_here(self, limit: int, session: Session) -> tuple[list[rows.Claimed], float | None]:
        # A read first: an idle consumer woken by someone else's commit must not take the
        # write lock just to learn that nothing is due.
        skip = self.skip_types
        due_at = session.read(lambda conn: rows.next_visible_at(conn, self._queue, skip))
        if due_at is None or due_at > time.time():
            return [], due_at
        claimed = session.write(
            lambda conn: rows.claim(
                conn,
                self._queue,
                self.owner,
                now=time.time(),
                lease_s=self._lease_s,
                limit=limit,
                max_redeliveries=self._max_redeliveries,
                skip_types=skip,
            )
        )
        return claimed, (None if claimed else time.time())

    async def _release(self, leases: list[Lease]) -> None:
        if not leases or not self._db.is_open:
            return
        try:
            await self._db.write(lambda conn: rows.release(conn, self.owner, leases, time.time()))
        except BrokerError as exc:
            log.warning(
                "could not hand back %d deliveries (their leases will expire): %s", len(leases), exc
            )
        else:
            self._on_release()

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            leases = list(self._held.values())
            if not leases:
                continue
            try:
                await self._db.write(functools.partial(self._extend, leases))
            except BrokerError as exc:
                log.warning("could not extend the leases of %d deliveries: %s", len(leases), exc)

    def _extend(self, leases: list[Lease], conn: sqlite3.Connection) -> None:
        rows.extend(conn, self.owner, leases, time.time() + self._lease_s)
