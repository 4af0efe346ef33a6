"""The values of cron schedules: what a user declares, what the store keeps, what a tick did."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobqueue.errors import InvalidSchedule
from jobqueue.job import iso_utc as to_iso
from jobqueue.schedule.expression import Cron

MAX_NAME_LENGTH = 200
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_NAME = re.compile(NAME_PATTERN)
_TYPE_LENGTH = 200


class Missed(enum.StrEnum):
    """What a schedule does about ticks it missed while no API ran (or all were late)."""

    SKIP = "skip"  # run nothing for them: only the ticks to come
    RUN_ONCE = "run_once"  # one run for all of them, at once


class Overlap(enum.StrEnum):
    """What a tick does while the schedule's previous run is still waiting or running."""

    ALLOW = "allow"  # run anyway
    SKIP = "skip"  # skip this tick


class Source(enum.StrEnum):
    """Where a schedule was declared."""

    CODE = "code"  # next to a handler (``Handlers.schedule``), upserted when the API starts
    API = "api"  # over HTTP (``POST /schedules``) or the CLI


class Outcome(enum.StrEnum):
    """What a tick did."""

    FIRED = "fired"  # a job for the tick
    CAUGHT_UP = "caught_up"  # one job for ticks missed (``missed: run_once``)
    RUN_NOW = "run_now"  # a job asked for by hand (``POST /schedules/{name}/run-now``)
    SKIPPED = "skipped"  # no job: the previous run was still waiting or running


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A schedule as declared: which job to create, when, in which zone, and its policies."""

    name: str
    cron: str
    job_type: str
    payload: Any = None
    zone: str = "UTC"
    max_attempts: int | None = None
    missed: Missed = Missed.SKIP
    overlap: Overlap = Overlap.ALLOW

    def checked(self) -> Cron:
        """The parsed expression; :class:`InvalidSchedule` naming whatever is wrong."""
        check_name(self.name)
        if not self.job_type or len(self.job_type) > _TYPE_LENGTH:
            raise InvalidSchedule(f"schedule {self.name!r}: job type must be 1..200 characters")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise InvalidSchedule(f"schedule {self.name!r}: max_attempts must be at least 1")
        return Cron.parse(self.cron, self.zone)


def check_name(name: str) -> None:
    """Refuse a schedule name that would not fit a URL path segment."""
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.match(name):
        raise InvalidSchedule(
            f"invalid schedule name {name!r}: 1..{MAX_NAME_LENGTH} letters, digits, '.', '_', "
            "':' or '-', starting with a letter or digit"
        )


def policy(kind: type[Missed] | type[Overlap], value: str) -> Any:
    """``value`` as a policy of ``kind``; :class:`InvalidSchedule` naming the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise InvalidSchedule(f"{kind.__name__.lower()} must be one of {choices}") from None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule: its declaration, whether it is paused, where it came from, and the
    tick it fires next."""

    spec: ScheduleSpec
    paused: bool
    source: Source
    next_run_at: datetime | None
    last_tick_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        """The schedule's name."""
        return self.spec.name

    def to_wire(self) -> dict[str, Any]:
        """The schedule as JSON."""
        spec = self.spec
        return {
            "name": spec.name,
            "cron": spec.cron,
            "tz": spec.zone,
            "job_type": spec.job_type,
            "payload": spec.payload,
            "max_attempts": spec.max_attempts,
            "missed": spec.missed.value,
            "overlap": spec.overlap.value,
            "paused": self.paused,
            "source": self.source.value,
            "next_run_at": _iso(None if self.paused else self.next_run_at),
            "last_tick_at": _iso(self.last_tick_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Tick:
    """One fired tick of a schedule, and the state of its job now (None when it has none or
    the job is gone)."""

    schedule: str
    tick_at: datetime
    job_id: str | None
    outcome: Outcome
    missed: int
    fired_at: datetime
    job_state: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The tick as JSON."""
        return {
            "tick_at": to_iso(self.tick_at),
            "job_id": self.job_id,
            "outcome": self.outcome.value,
            "missed": self.missed,
            "fired_at": to_iso(self.fired_at),
            "job_state": self.job_state,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else to_iso(moment)
