"""The schedules' answers as the OpenAPI document describes them (the routes write the JSON
themselves; these models only document it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TickOut(BaseModel):
    """One run of a schedule: a tick of its expression, a catch-up, a run-now or a skip."""

    tick_at: str = Field(description="The tick's time (for run-now: when it was asked).")
    job_id: str | None = Field(description="The job it made; null for a skipped tick.")
    outcome: str = Field(examples=["fired"], description="fired, caught_up, run_now, skipped.")
    missed: int = Field(description="How many missed ticks a caught_up run stands in for.")
    fired_at: str
    job_state: str | None = Field(description="The job's state now (null once it is gone).")


class ScheduleOut(BaseModel):
    """A schedule, its next runs and (when asked) its last runs."""

    name: str
    cron: str
    tz: str
    job_type: str
    payload: Any
    max_attempts: int | None
    missed: str = Field(description="skip or run_once.")
    overlap: str = Field(description="allow or skip.")
    paused: bool
    source: str = Field(description="code (declared next to a handler) or api.")
    next_run_at: str | None = Field(description="The next tick; null while paused.")
    last_tick_at: str | None
    created_at: str
    updated_at: str
    description: str | None = Field(description="The expression in words, for common forms.")
    next_runs: list[str]
    last_runs: list[TickOut] | None = None


class ScheduleListOut(BaseModel):
    """Every schedule, by name."""

    schedules: list[ScheduleOut]


class RemovedOut(BaseModel):
    """The schedule removed."""

    removed: str
