"""The schedule tables' reads and writes, each a plain function run inside the store's
transaction (``SqlStore.transaction``), as the store's own modules are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from jobqueue.config import QUEUE
from jobqueue.errors import ScheduleConflict
from jobqueue.job import Job, JobState, iso_utc
from jobqueue.schedule.values import Missed, Outcome, Overlap, Schedule, ScheduleSpec, Source, Tick
from jobqueue.store import driver, scheduled
from jobqueue.store.tables import jobs, schedule_ticks, schedules

_UNFINISHED = tuple(
    state.value
    for state in (JobState.SCHEDULED, JobState.QUEUED, JobState.RETRYING, JobState.RUNNING)
)


def _spec_row(spec: ScheduleSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "cron": spec.cron,
        "zone": spec.zone,
        "job_type": spec.job_type,
        "payload": spec.payload,
        "max_attempts": spec.max_attempts,
        "missed": spec.missed.value,
        "overlap": spec.overlap.value,
    }


def schedule_from_row(row: Any) -> Schedule:
    """A :class:`Schedule` from a ``store_schedules`` row."""
    spec = ScheduleSpec(
        name=row.name,
        cron=row.cron,
        job_type=row.job_type,
        payload=row.payload,
        zone=row.zone,
        max_attempts=row.max_attempts,
        missed=Missed(row.missed),
        overlap=Overlap(row.overlap),
    )
    return Schedule(
        spec=spec,
        paused=bool(row.paused),
        source=Source(row.source),
        next_run_at=row.next_run_at,
        last_tick_at=row.last_tick_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get(connection: sa.Connection, name: str) -> Schedule | None:
    """One schedule by name."""
    row = connection.execute(sa.select(schedules).where(schedules.c.name == name)).first()
    return None if row is None else schedule_from_row(row)


def every(connection: sa.Connection) -> list[Schedule]:
    """Every schedule, by name."""
    rows = connection.execute(sa.select(schedules).order_by(schedules.c.name))
    return [schedule_from_row(row) for row in rows]


def insert(
    connection: sa.Connection,
    spec: ScheduleSpec,
    source: Source,
    next_run_at: datetime | None,
    now: datetime,
    paused: bool = False,
) -> Schedule:
    """Add a schedule; :class:`ScheduleConflict` when the name is taken."""
    row = _spec_row(spec) | {
        "paused": paused,
        "source": source.value,
        "next_run_at": next_run_at,
        "last_tick_at": None,
        "created_at": now,
        "updated_at": now,
    }
    statement = driver.dialect_insert(connection.dialect.name)(schedules).values(row)
    result = connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    if not result.rowcount:
        raise ScheduleConflict(f"a schedule named {spec.name!r} exists")
    stored = get(connection, spec.name)
    assert stored is not None
    return stored


def replace(
    connection: sa.Connection,
    spec: ScheduleSpec,
    next_run_at: datetime | None,
    now: datetime,
    source: Source | None = None,
) -> Schedule | None:
    """Change a schedule's declaration (and its next tick); None when there is none."""
    values = _spec_row(spec) | {"next_run_at": next_run_at, "updated_at": now}
    if source is not None:
        values["source"] = source.value
    result = connection.execute(
        sa.update(schedules).where(schedules.c.name == spec.name).values(values)
    )
    return get(connection, spec.name) if result.rowcount else None


def set_paused(
    connection: sa.Connection, name: str, paused: bool, next_run_at: datetime | None, now: datetime
) -> Schedule | None:
    """Pause or resume (from ``next_run_at``: a resumed schedule never catches up)."""
    values: dict[str, Any] = {"paused": paused, "updated_at": now}
    if not paused:
        values["next_run_at"] = next_run_at
    result = connection.execute(sa.update(schedules).where(schedules.c.name == name).values(values))
    return get(connection, name) if result.rowcount else None


def delete(connection: sa.Connection, name: str) -> bool:
    """Remove a schedule and its ticks (the jobs it made stay)."""
    connection.execute(sa.delete(schedule_ticks).where(schedule_ticks.c.schedule == name))
    result = connection.execute(sa.delete(schedules).where(schedules.c.name == name))
    return bool(result.rowcount)


def due(connection: sa.Connection, now: datetime, limit: int = 100) -> list[Schedule]:
    """Running schedules whose next tick is at or before ``now``, earliest first."""
    query = (
        sa.select(schedules)
        .where(schedules.c.paused == sa.false(), schedules.c.next_run_at <= now)
        .order_by(schedules.c.next_run_at, schedules.c.name)
        .limit(limit)
    )
    return [schedule_from_row(row) for row in connection.execute(query)]


def earliest(connection: sa.Connection) -> datetime | None:
    """The soonest next tick of a running schedule, or None."""
    query = sa.select(sa.func.min(schedules.c.next_run_at)).where(schedules.c.paused == sa.false())
    value: datetime | None = connection.execute(query).scalar()
    return value


def advance(
    connection: sa.Connection, name: str, expected: datetime, new_next: datetime | None
) -> bool:
    """Move the schedule's next tick from ``expected`` to ``new_next``; False when another
    transaction moved it first (the compare-and-set every replica races on)."""
    result = connection.execute(
        sa.update(schedules)
        .where(
            schedules.c.name == name,
            schedules.c.next_run_at == expected,
            schedules.c.paused == sa.false(),
        )
        .values(next_run_at=new_next)
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class Firing:
    """What one claim records: the tick, what it did, and the job to create (if any)."""

    schedule: str
    tick_at: datetime
    outcome: Outcome
    missed: int = 0
    job: Job | None = None


def record_tick(
    connection: sa.Connection, firing: Firing, now: datetime, queue: str | None = QUEUE
) -> bool:
    """Claim ``(schedule, tick)`` and, in the same transaction, record its job as scheduled
    (due at the tick, for the delayed-job promoter to publish); False when it was claimed."""
    insert_tick = driver.dialect_insert(connection.dialect.name)(schedule_ticks).values(
        schedule=firing.schedule,
        tick_at=firing.tick_at,
        job_id=None if firing.job is None else firing.job.id,
        outcome=firing.outcome.value,
        missed=firing.missed,
        fired_at=now,
    )
    claimed = connection.execute(
        insert_tick.on_conflict_do_nothing(index_elements=["schedule", "tick_at"])
    )
    if not claimed.rowcount:
        return False
    if firing.outcome is not Outcome.RUN_NOW:
        connection.execute(
            sa.update(schedules)
            .where(schedules.c.name == firing.schedule)
            .values(last_tick_at=firing.tick_at)
        )
    if firing.job is not None:
        scheduled.record_scheduled(connection, [firing.job], queue)
    return True


def tick_job(schedule: Schedule, tick_at: datetime) -> Job:
    """The job a tick creates: the schedule's type and payload, due at the tick."""
    spec = schedule.spec
    return Job(
        type=spec.job_type,
        payload=spec.payload,
        max_attempts=spec.max_attempts,
        run_at=iso_utc(tick_at),
    )


def previous_run_unfinished(connection: sa.Connection, name: str) -> bool:
    """Whether the job of the schedule's latest run is still scheduled, queued or running."""
    latest = (
        sa.select(schedule_ticks.c.job_id)
        .where(schedule_ticks.c.schedule == name, schedule_ticks.c.job_id.is_not(None))
        .order_by(schedule_ticks.c.tick_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = sa.select(jobs.c.state).where(jobs.c.id == latest)
    state = connection.execute(query).scalar()
    return state in _UNFINISHED


def ticks(connection: sa.Connection, name: str, limit: int) -> list[Tick]:
    """The schedule's latest ticks, newest first, with their jobs' states."""
    query = (
        sa.select(schedule_ticks, jobs.c.state)
        .select_from(schedule_ticks.outerjoin(jobs, jobs.c.id == schedule_ticks.c.job_id))
        .where(schedule_ticks.c.schedule == name)
        .order_by(schedule_ticks.c.tick_at.desc())
        .limit(limit)
    )
    return [_tick(row) for row in connection.execute(query)]


def tick_of_job(connection: sa.Connection, job_id: str) -> Tick | None:
    """The tick that made ``job_id``, or None for a job no schedule made."""
    row = connection.execute(
        sa.select(schedule_ticks, sa.null().label("state")).where(schedule_ticks.c.job_id == job_id)
    ).first()
    return None if row is None else _tick(row)


def _tick(row: Any) -> Tick:
    return Tick(
        schedule=row.schedule,
        tick_at=row.tick_at,
        job_id=row.job_id,
        outcome=Outcome(row.outcome),
        missed=row.missed,
        fired_at=row.fired_at,
        job_state=row.state,
    )


def purge_ticks(connection: sa.Connection, before: datetime) -> int:
    """Forget ticks older than ``before`` (the jobs they made keep their own retention)."""
    result = connection.execute(sa.delete(schedule_ticks).where(schedule_ticks.c.tick_at < before))
    return int(result.rowcount or 0)


def declared_names(connection: sa.Connection) -> set[str]:
    """The names of the schedules declared in code."""
    query = sa.select(schedules.c.name).where(schedules.c.source == Source.CODE.value)
    return set(connection.execute(query).scalars())


def specs_by_name(found: Sequence[Schedule]) -> Mapping[str, Schedule]:
    """Schedules keyed by name."""
    return {schedule.name: schedule for schedule in found}
