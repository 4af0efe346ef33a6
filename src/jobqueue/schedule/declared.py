"""Schedules declared in code, next to their handlers (``Handlers.schedule``): checked when
declared, so a bad expression fails as the app is imported, naming it."""

from __future__ import annotations

from typing import Any

from jobqueue.errors import ConfigError, InvalidSchedule
from jobqueue.schedule.values import Missed, Overlap, ScheduleSpec, policy

__all__ = ["ScheduleSpec", "declared_schedule"]


def declared_schedule(
    name: str,
    cron: str,
    job_type: str,
    payload: Any,
    tz: str,
    max_attempts: int | None,
    missed: str,
    overlap: str,
) -> ScheduleSpec:
    """A checked :class:`ScheduleSpec`; :class:`ConfigError` naming what is wrong."""
    try:
        spec = ScheduleSpec(
            name=name,
            cron=cron,
            job_type=job_type,
            payload=payload,
            zone=tz,
            max_attempts=max_attempts,
            missed=policy(Missed, missed),
            overlap=policy(Overlap, overlap),
        )
        spec.checked()
    except InvalidSchedule as exc:
        raise ConfigError(f"schedule {name!r}: {exc}") from None
    return spec
