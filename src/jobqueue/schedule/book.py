"""``ScheduleBook``: the schedules in the job store, as the routes, the CLI's API and the firing
loop use them (each operation one transaction of :mod:`jobqueue.schedule.rows`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.config import QUEUE
from jobqueue.errors import NotFound, ScheduleConflict
from jobqueue.schedule import rows
from jobqueue.schedule.expression import Cron
from jobqueue.schedule.values import Outcome, Schedule, ScheduleSpec, Source, Tick
from jobqueue.store.events import utc_now
from jobqueue.store.sql import SqlStore

logger = logging.getLogger("jobqueue.schedule")

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Declared:
    """What upserting the schedules declared in code did, by name."""

    added: list[str]
    updated: list[str]
    removed: list[str]


class ScheduleBook:
    """The schedules of one store, with a clock (injectable, so tests step time)."""

    def __init__(self, store: SqlStore, queue: str = QUEUE, clock: Clock = utc_now) -> None:
        self.store = store
        self.queue = queue
        self.clock = clock

    async def create(self, spec: ScheduleSpec, source: Source = Source.API) -> Schedule:
        """Add a schedule (its first tick after now); ScheduleConflict when the name is taken."""
        cron = spec.checked()
        now = self.clock()
        return await self.store.transaction(
            lambda c: rows.insert(c, spec, source, cron.next_after(now), now)
        )

    async def get(self, name: str) -> Schedule:
        """One schedule; :class:`NotFound` when there is none of that name."""
        found = await self.store.transaction(lambda c: rows.get(c, name), write=False)
        if found is None:
            raise NotFound(f"no schedule named {name!r}")
        return found

    async def all(self) -> list[Schedule]:
        """Every schedule, by name."""
        return await self.store.transaction(rows.every, write=False)

    async def change(self, name: str, changes: dict[str, Any]) -> Schedule:
        """Change fields of a schedule made over HTTP; its next tick is worked out again when
        its expression or zone changed. One declared in code is refused (edit the code)."""
        current = await self._editable(name)
        spec = dataclasses.replace(current.spec, **changes)
        cron = spec.checked()
        now = self.clock()
        moved = (spec.cron, spec.zone) != (current.spec.cron, current.spec.zone)
        next_run_at = cron.next_after(now) if moved else current.next_run_at
        changed = await self.store.transaction(lambda c: rows.replace(c, spec, next_run_at, now))
        if changed is None:
            raise NotFound(f"no schedule named {name!r}")
        return changed

    async def remove(self, name: str) -> None:
        """Delete a schedule made over HTTP (one declared in code is refused)."""
        await self._editable(name)
        if not await self.store.transaction(lambda c: rows.delete(c, name)):
            raise NotFound(f"no schedule named {name!r}")

    async def _editable(self, name: str) -> Schedule:
        current = await self.get(name)
        if current.source is Source.CODE:
            raise ScheduleConflict(
                f"schedule {name!r} is declared in code: change it there (pause, resume and "
                "run-now work here)"
            )
        return current

    async def pause(self, name: str) -> Schedule:
        """Stop firing a schedule until resumed."""
        return await self._set_paused(name, True)

    async def resume(self, name: str) -> Schedule:
        """Fire a paused schedule again, from its next tick after now (no catching up)."""
        return await self._set_paused(name, False)

    async def _set_paused(self, name: str, paused: bool) -> Schedule:
        current = await self.get(name)
        now = self.clock()
        next_run_at = current.next_run_at
        if not paused and current.paused:
            next_run_at = Cron.parse(current.spec.cron, current.spec.zone).next_after(now)
        changed = await self.store.transaction(
            lambda c: rows.set_paused(c, name, paused, next_run_at, now)
        )
        if changed is None:
            raise NotFound(f"no schedule named {name!r}")
        return changed

    async def run_now(self, name: str) -> Tick:
        """Create a run of the schedule now, outside its ticks (no overlap check)."""
        schedule = await self.get(name)
        now = self.clock()
        firing = rows.Firing(name, now, Outcome.RUN_NOW, job=rows.tick_job(schedule, now))
        await self.store.transaction(lambda c: rows.record_tick(c, firing, now, self.queue))
        self.jobs_scheduled(now)
        assert firing.job is not None
        return Tick(name, now, firing.job.id, Outcome.RUN_NOW, 0, now, "scheduled")

    def jobs_scheduled(self, earliest: datetime) -> None:
        """Wake the delayed-job promoter: jobs due at ``earliest`` were recorded."""
        self.store.scheduled_changed(earliest)

    async def ticks(self, name: str, limit: int = 10) -> list[Tick]:
        """The schedule's latest ticks, newest first."""
        return await self.store.transaction(lambda c: rows.ticks(c, name, limit), write=False)

    async def tick_of_job(self, job_id: str) -> Tick | None:
        """The tick that made a job, or None."""
        return await self.store.transaction(lambda c: rows.tick_of_job(c, job_id), write=False)

    async def declare(self, specs: Sequence[ScheduleSpec]) -> Declared:
        """Upsert the schedules declared in code, in one transaction: new ones are added,
        changed ones updated (their pause kept), and code schedules no longer declared are
        removed. A schedule made over HTTP with a declared name is taken over by the code."""
        checked = {spec.name: spec.checked() for spec in specs}
        now = self.clock()

        def upsert(connection: sa.Connection) -> Declared:
            return _declare(connection, specs, checked, now)

        declared = await self.store.transaction(upsert)
        for verb, names in (("added", declared.added), ("updated", declared.updated)):
            if names:
                logger.info("schedules declared in code %s: %s", verb, ", ".join(names))
        if declared.removed:
            logger.warning(
                "schedules no longer declared in code removed: %s", ", ".join(declared.removed)
            )
        return declared


def _declare(
    connection: sa.Connection,
    specs: Sequence[ScheduleSpec],
    checked: dict[str, Cron],
    now: datetime,
) -> Declared:
    existing = rows.specs_by_name(rows.every(connection))
    added: list[str] = []
    updated: list[str] = []
    for spec in specs:
        current = existing.get(spec.name)
        if current is None:
            if _insert_declared(connection, spec, checked[spec.name].next_after(now), now):
                added.append(spec.name)
        elif current.spec != spec or current.source is not Source.CODE:
            moved = (spec.cron, spec.zone) != (current.spec.cron, current.spec.zone)
            next_run_at = checked[spec.name].next_after(now) if moved else current.next_run_at
            rows.replace(connection, spec, next_run_at, now, Source.CODE)
            updated.append(spec.name)
    removed = sorted(rows.declared_names(connection) - {spec.name for spec in specs})
    for name in removed:
        rows.delete(connection, name)
    return Declared(added, updated, removed)


def _insert_declared(
    connection: sa.Connection, spec: ScheduleSpec, next_run_at: datetime | None, now: datetime
) -> bool:
    """Add a declared schedule; False when another replica starting at once added it first."""
    try:
        rows.insert(connection, spec, Source.CODE, next_run_at, now)
    except ScheduleConflict:
        return False
    return True


def schedule_book(store: object, queue: str = QUEUE, clock: Clock = utc_now) -> ScheduleBook | None:
    """The schedules of ``store``, or None for a store without SQL tables of its own."""
    return ScheduleBook(store, queue, clock) if isinstance(store, SqlStore) else None
