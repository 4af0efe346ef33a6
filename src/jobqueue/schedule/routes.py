"""The schedules' HTTP routes: ``/schedules`` to list, add, change and remove them, and
``/schedules/{name}/pause``, ``/resume``, ``/run-now``; changes need ``admin`` and are audited
as ``schedule.<verb>``, reads need ``read``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from jobqueue.api.schemas import JOB_TYPE_PATTERN, error_responses, json_response
from jobqueue.auth.audit import note
from jobqueue.errors import InvalidSchedule
from jobqueue.job import iso_utc
from jobqueue.schedule.book import ScheduleBook
from jobqueue.schedule.expression import Cron
from jobqueue.schedule.schemas import RemovedOut, ScheduleListOut, ScheduleOut, TickOut
from jobqueue.schedule.values import (
    MAX_NAME_LENGTH,
    Missed,
    Overlap,
    Schedule,
    ScheduleSpec,
)
from jobqueue.schedule.words import describe

NEXT_RUNS = 5
_REQUIRED = ("cron", "job_type", "tz", "missed", "overlap")
MAX_LAST_RUNS = 100

ScheduleName = Annotated[str, Path(description="The schedule's name.", max_length=MAX_NAME_LENGTH)]


class ScheduleRequest(BaseModel):
    """A new schedule: a job of ``job_type`` with ``payload`` at each tick of ``cron``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Unique; in URLs.")
    cron: str = Field(
        description="5 fields (minute hour day month weekday), a 6th of seconds after them, "
        "or @yearly, @monthly, @weekly, @daily, @hourly."
    )
    job_type: str = Field(min_length=1, max_length=200, pattern=JOB_TYPE_PATTERN)
    payload: Any = None
    tz: str = Field(default="UTC", description="IANA time zone of the expression.")
    max_attempts: StrictInt | None = Field(default=None, ge=1)
    missed: Missed = Field(default=Missed.SKIP, description="Ticks missed while no API ran.")
    overlap: Overlap = Field(default=Overlap.ALLOW, description="While the last run is unfinished.")

    def spec(self) -> ScheduleSpec:
        """The declaration."""
        return ScheduleSpec(
            name=self.name,
            cron=self.cron,
            job_type=self.job_type,
            payload=self.payload,
            zone=self.tz,
            max_attempts=self.max_attempts,
            missed=self.missed,
            overlap=self.overlap,
        )


JobTypeText = Annotated[str, Field(min_length=1, max_length=200, pattern=JOB_TYPE_PATTERN)]


class ScheduleChange(BaseModel):
    """The fields to change; the others are kept."""

    model_config = ConfigDict(extra="forbid")

    # Null is no value for these (SkipJsonSchema: the schema says so; a null sent is a 422).
    cron: str | SkipJsonSchema[None] = None
    job_type: JobTypeText | SkipJsonSchema[None] = None
    payload: Any = None
    tz: str | SkipJsonSchema[None] = None
    max_attempts: StrictInt | None = Field(default=None, ge=1)
    missed: Missed | SkipJsonSchema[None] = None
    overlap: Overlap | SkipJsonSchema[None] = None

    def changes(self) -> dict[str, Any]:
        """The :class:`ScheduleSpec` fields given; :class:`InvalidSchedule` for a null one that
        cannot be empty."""
        given = self.model_dump(exclude_unset=True)
        nulls = sorted(name for name in _REQUIRED if name in given and given[name] is None)
        if nulls:
            raise InvalidSchedule(f"{', '.join(nulls)} cannot be null")
        if "tz" in given:
            given["zone"] = given.pop("tz")
        return given


def schedule_view(schedule: Schedule, runs: int = NEXT_RUNS) -> dict[str, Any]:
    """A schedule as JSON, with its next ``runs`` ticks (none while paused)."""
    view = schedule.to_wire()
    view["description"] = describe(schedule.spec.cron)
    upcoming: list[str] = []
    if not schedule.paused and schedule.next_run_at is not None and runs > 0:
        cron = Cron.parse(schedule.spec.cron, schedule.spec.zone)
        first = schedule.next_run_at
        upcoming = [view["next_run_at"]]
        upcoming += [iso_utc(t) for t in cron.next_runs(first, runs - 1)]
    view["next_runs"] = upcoming
    return view


def schedules_router(book: ScheduleBook) -> APIRouter:
    """The ``/schedules`` routes over ``book``."""
    router = APIRouter(prefix="/schedules", tags=["schedules"])
    _reads(router, book)
    _changes(router, book)
    _actions(router, book)
    return router


async def _views(book: ScheduleBook, runs: int, last: int) -> list[dict[str, Any]]:
    """Every schedule's view, with its ``last`` latest ticks when asked."""
    views = []
    for schedule in await book.all():
        view = schedule_view(schedule, runs)
        if last:
            view["last_runs"] = [t.to_wire() for t in await book.ticks(schedule.name, last)]
        views.append(view)
    return views


def _reads(router: APIRouter, book: ScheduleBook) -> None:
    """GET /schedules and GET /schedules/{name} (read scope)."""

    @router.get("", response_model=ScheduleListOut, responses=error_responses(503))
    async def list_schedules(
        runs: Annotated[int, Query(ge=0, le=100, description="How many next runs.")] = NEXT_RUNS,
        last: Annotated[int, Query(ge=0, le=MAX_LAST_RUNS, description="How many last runs.")] = 0,
    ) -> Response:
        """Every schedule, by name, with its next runs (and its last runs when asked)."""
        return json_response({"schedules": await _views(book, runs, last)})

    @router.get("/{name}", response_model=ScheduleOut, responses=error_responses(404, 503))
    async def get_schedule(
        name: ScheduleName,
        runs: Annotated[int, Query(ge=0, le=100, description="How many next runs.")] = NEXT_RUNS,
        last: Annotated[int, Query(ge=0, le=MAX_LAST_RUNS, description="How many last runs.")] = 10,
    ) -> Response:
        """One schedule, its next runs and its last runs (with their jobs' states)."""
        view = schedule_view(await book.get(name), runs)
        view["last_runs"] = [tick.to_wire() for tick in await book.ticks(name, last)]
        return json_response(view)


def _changes(router: APIRouter, book: ScheduleBook) -> None:
    """POST, PATCH and DELETE (admin scope, audited)."""

    @router.post(
        "",
        status_code=201,
        response_model=ScheduleOut,
        responses=error_responses(400, 409, 422, 503),
    )
    async def create_schedule(request: Request, body: ScheduleRequest) -> Response:
        """Add a schedule; 422 names a bad expression or zone, 409 a name taken."""
        schedule = await book.create(body.spec())
        note(request, "schedule.create", schedule.name, 1, {"cron": body.cron, "tz": body.tz})
        return json_response(schedule_view(schedule), 201)

    @router.patch(
        "/{name}", response_model=ScheduleOut, responses=error_responses(400, 404, 409, 422, 503)
    )
    async def change_schedule(
        request: Request, name: ScheduleName, body: ScheduleChange
    ) -> Response:
        """Change a schedule made over HTTP (409 for one declared in code)."""
        schedule = await book.change(name, body.changes())
        note(request, "schedule.change", name, 1, body.model_dump(exclude_unset=True, mode="json"))
        return json_response(schedule_view(schedule))

    @router.delete("/{name}", response_model=RemovedOut, responses=error_responses(404, 409, 503))
    async def delete_schedule(request: Request, name: ScheduleName) -> Response:
        """Remove a schedule made over HTTP, and its ticks; the jobs it made stay."""
        await book.remove(name)
        note(request, "schedule.remove", name, 1)
        return json_response({"removed": name})


def _actions(router: APIRouter, book: ScheduleBook) -> None:
    """Pause, resume, run-now (admin scope, audited)."""

    @router.post("/{name}/pause", response_model=ScheduleOut, responses=error_responses(404, 503))
    async def pause_schedule(request: Request, name: ScheduleName) -> Response:
        """Stop firing until resumed."""
        schedule = await book.pause(name)
        note(request, "schedule.pause", name, 1)
        return json_response(schedule_view(schedule))

    @router.post("/{name}/resume", response_model=ScheduleOut, responses=error_responses(404, 503))
    async def resume_schedule(request: Request, name: ScheduleName) -> Response:
        """Fire again from the next tick after now (ticks while paused are not made up)."""
        schedule = await book.resume(name)
        note(request, "schedule.resume", name, 1)
        return json_response(schedule_view(schedule))

    @router.post(
        "/{name}/run-now",
        status_code=202,
        response_model=TickOut,
        responses=error_responses(404, 503),
    )
    async def run_schedule_now(request: Request, name: ScheduleName) -> Response:
        """Create a run now, beside the ticks; answers its job id."""
        tick = await book.run_now(name)
        note(request, "schedule.run_now", name, 1, {"job_id": tick.job_id})
        return json_response(tick.to_wire(), 202)
