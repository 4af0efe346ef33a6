"""The firing loop, a sidecar of every API process: each due tick of each schedule becomes one
job, however many replicas run.

Exactly once: a replica fires a tick only in a transaction that first moves the schedule's
``next_run_at`` from that tick to the next one (a compare-and-set: the replicas that lose the
race update no row and do nothing), then inserts the unique ``(schedule, tick)`` row and records
the tick's job as a delayed job due at the tick (``jobqueue.store.scheduled``), all committed
together. The delayed-job promoter then publishes it. A crash before the commit leaves the tick
to whichever replica looks next; after it, the job is in the store and will be published.

On time and late: a tick is fired as itself while it is at most ``missed_after_s`` old. Older
ticks are *missed* (no API ran, or the store was down): ``missed: skip`` drops them, and
``run_once`` fires one job for them all, at the latest of them (``caught_up``, with how many
it stands in for). ``overlap: skip`` records a tick as ``skipped``, without a job, while the
schedule's previous run is still scheduled, queued or running.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from jobqueue.background import in_background
from jobqueue.errors import InvalidSchedule, StoreUnavailable
from jobqueue.handlers import load_handlers
from jobqueue.job import Job
from jobqueue.schedule import rows
from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.expression import Cron
from jobqueue.schedule.values import Missed, Outcome, Overlap, Schedule, ScheduleSpec

logger = logging.getLogger("jobqueue.schedule")

MISSED_AFTER_S = 30.0
"""A tick older than this when a replica gets to it counts as missed."""
IDLE_S = 1.0
"""The longest the loop sleeps: schedules added or resumed elsewhere are seen this soon."""
TICK_RETENTION = timedelta(days=7)
"""How long fired ticks are kept (their jobs follow the jobs' own retention)."""
_PURGE_EVERY_S = 600.0
_MISSED_COUNT_CAP = 10_000  # counting missed ticks stops here (an every-second schedule's day)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do about a due schedule: the tick to fire (None: only move on), what it is,
    how many ticks were missed, and the schedule's next tick afterwards."""

    tick_at: datetime | None
    outcome: Outcome | None
    missed: int
    next_run_at: datetime | None


def plan(schedule: Schedule, cron: Cron, now: datetime, missed_after_s: float) -> Plan | None:
    """The plan for ``schedule`` at ``now``, or None when it is not due."""
    due = schedule.next_run_at
    if schedule.paused or due is None or due > now:
        return None
    late_before = now - timedelta(seconds=missed_after_s)
    if due >= late_before:
        return Plan(due, Outcome.FIRED, 0, cron.next_after(due))
    missed = _count_missed(cron, due, late_before)
    next_run_at = cron.next_after(late_before)
    if schedule.spec.missed is Missed.SKIP:
        return Plan(None, None, missed, next_run_at)
    last = cron.last_at_or_before(late_before) or due
    return Plan(last, Outcome.CAUGHT_UP, missed, next_run_at)


def _count_missed(cron: Cron, first: datetime, until: datetime) -> int:
    count = 1
    for tick in cron.ticks_after(first):
        if tick > until or count >= _MISSED_COUNT_CAP:
            break
        count += 1
    return count


class FiringObserver(Protocol):
    """Told about each fired tick (the metrics)."""

    def fired(self, schedule: str, outcome: str, lateness_s: float) -> None:
        """A tick fired (or was skipped) ``lateness_s`` after its time."""


@dataclass(frozen=True, slots=True)
class Fired:
    """A tick this replica fired."""

    schedule: str
    tick_at: datetime
    outcome: Outcome
    job_id: str | None
    missed: int


class FiringLoop:
    """Fires the due ticks of a store's schedules; run several on one store at once."""

    def __init__(
        self,
        book: ScheduleBook,
        *,
        missed_after_s: float = MISSED_AFTER_S,
        idle_s: float = IDLE_S,
        observer: FiringObserver | None = None,
        declared: Sequence[ScheduleSpec] | None = None,
    ) -> None:
        self.book = book
        self.declared = declared  # the app's schedules, upserted first (None: leave them)
        self.missed_after_s = missed_after_s
        self.idle_s = idle_s
        self.observer = observer
        self._purged_at: datetime | None = None

    async def fire_due(self) -> list[Fired]:
        """One pass: fire every tick due now (a schedule late by several on-time ticks fires
        them one after the other); returns what this replica fired."""
        fired: list[Fired] = []
        while True:
            now = self.book.clock()
            due = await self.book.store.transaction(
                functools.partial(rows.due, now=now), write=False
            )
            rounds = [await self._fire(schedule, now) for schedule in due]
            done = [item for item in rounds if item is not None]
            fired.extend(done)
            if not due or len(done) == 0:
                return fired

    async def _fire(self, schedule: Schedule, now: datetime) -> Fired | None:
        try:
            cron = Cron.parse(schedule.spec.cron, schedule.spec.zone)
        except InvalidSchedule as exc:  # e.g. a zone the system's tzdata no longer has
            logger.error("schedule %r cannot fire: %s", schedule.name, exc)
            return None
        step = plan(schedule, cron, now, self.missed_after_s)
        if step is None:
            return None
        fired = await self.book.store.transaction(
            lambda c: self._claim(c, schedule, step, now), write=True
        )
        self._report(schedule, step, fired, now)
        return fired

    def _claim(
        self, connection: sa.Connection, schedule: Schedule, step: Plan, now: datetime
    ) -> Fired | None:
        assert schedule.next_run_at is not None
        if not rows.advance(connection, schedule.name, schedule.next_run_at, step.next_run_at):
            return None  # another replica fired it
        if step.tick_at is None or step.outcome is None:
            return Fired(schedule.name, schedule.next_run_at, Outcome.SKIPPED, None, step.missed)
        outcome, job = step.outcome, rows.tick_job(schedule, step.tick_at)
        job_or_none: Job | None = job
        if schedule.spec.overlap is Overlap.SKIP and rows.previous_run_unfinished(
            connection, schedule.name
        ):
            outcome, job_or_none = Outcome.SKIPPED, None
        firing = rows.Firing(schedule.name, step.tick_at, outcome, step.missed, job_or_none)
        if not rows.record_tick(connection, firing, now, self.book.queue):
            return None
        job_id = None if job_or_none is None else job_or_none.id
        return Fired(schedule.name, step.tick_at, outcome, job_id, step.missed)

    def _report(self, schedule: Schedule, step: Plan, fired: Fired | None, now: datetime) -> None:
        if fired is None:
            return
        if fired.job_id is not None:
            self.book.jobs_scheduled(fired.tick_at)
        if step.tick_at is None:
            logger.warning(
                "schedule %r missed %d tick(s) from %s (missed: skip): next at %s",
                schedule.name,
                step.missed,
                fired.tick_at.isoformat(),
                step.next_run_at.isoformat() if step.next_run_at else "never",
            )
            return
        if fired.outcome is Outcome.CAUGHT_UP:
            logger.warning(
                "schedule %r missed %d tick(s): one run for them (missed: run_once)",
                schedule.name,
                step.missed,
            )
        if self.observer is not None:
            lateness_s = max(0.0, (now - fired.tick_at).total_seconds())
            self.observer.fired(schedule.name, fired.outcome.value, lateness_s)

    async def purge_old_ticks(self) -> int:
        """Forget ticks past :data:`TICK_RETENTION`, at most every ten minutes."""
        now = self.book.clock()
        if self._purged_at is not None and (now - self._purged_at).total_seconds() < _PURGE_EVERY_S:
            return 0
        self._purged_at = now
        cutoff = now - TICK_RETENTION
        return await self.book.store.transaction(lambda c: rows.purge_ticks(c, cutoff))

    async def pause_s(self) -> float:
        """How long to sleep before the next pass: until the soonest tick, at most ``idle_s``."""
        soonest = await self.book.store.transaction(rows.earliest, write=False)
        if soonest is None:
            return self.idle_s
        wait_s = (soonest - self.book.clock()).total_seconds()
        return min(self.idle_s, max(0.0, wait_s))

    async def run(self) -> None:
        """Upsert the declared schedules, then fire ticks until cancelled; a store that is down
        is tried again a second later."""
        while self.declared is not None:
            try:
                await self.book.declare(self.declared)
                self.declared = None
            except StoreUnavailable as exc:
                logger.warning("schedules: cannot declare them yet (%s)", exc)
                await asyncio.sleep(self.idle_s)
        while True:
            try:
                await self.fire_due()
                await self.purge_old_ticks()
                wait_s = await self.pause_s()
            except StoreUnavailable as exc:
                logger.warning("schedules: the job store is unavailable (%s)", exc)
                wait_s = self.idle_s
            except Exception:  # a pass that failed must not stop this replica's schedules
                logger.exception("schedules: a firing pass failed; trying again")
                wait_s = self.idle_s
            await asyncio.sleep(wait_s)


def schedule_sidecars(
    book: ScheduleBook | None, app_spec: str | None, observer: FiringObserver | None = None
) -> list[contextlib.AbstractAsyncContextManager[object]]:
    """The API's firing loop over ``book`` (none without one), first upserting the schedules
    the handlers of ``app_spec`` declare; a bad app or schedule is a ConfigError now."""
    if book is None:
        return []
    declared = None if app_spec is None else load_handlers(app_spec).schedules()
    return [firing(FiringLoop(book, observer=observer, declared=declared))]


@contextlib.asynccontextmanager
async def firing(loop: FiringLoop) -> AsyncIterator[FiringLoop]:
    """The firing loop as a sidecar: running while the block runs, cancelled on exit."""
    async with in_background(loop.run(), "schedule-firing"):
        yield loop
