"""Job status routes: look a job up (or wait for it), list jobs (by state, type, submission time,
id), show a job's history, cancel. Bulk actions are in :mod:`jobqueue.api.bulk`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from jobqueue.api.errors import JobFinished
from jobqueue.api.schemas import (
    JOB_TYPE_PATTERN,
    NO_CONTROL_CHARACTERS,
    Rfc3339Time,
    error_responses,
    json_response,
)
from jobqueue.api.tracking import Tracking
from jobqueue.errors import NotFound
from jobqueue.handlers import MAX_TYPE_LENGTH
from jobqueue.job import JobState
from jobqueue.schedule.book import ScheduleBook
from jobqueue.store import JobRecord
from jobqueue.store.events import to_iso

MAX_WAIT_S = 60.0
MAX_LIST_LIMIT = 1000
MAX_ID_LENGTH = 255

JobId = Annotated[str, Path(description="The job's id, as POST /jobs answered it.")]


class JobStatusOut(BaseModel):
    """What is known about a job: the job's fields first, then its state."""

    id: str
    type: str
    payload: Any = Field(
        description="As submitted; null if the store learnt of the job first from a worker."
    )
    attempts: int = Field(description="Attempts started.")
    max_attempts: int | None
    priority: int = Field(description="0 to 9: among jobs due together, higher ones first.")
    state: JobState
    created_at: str
    updated_at: str
    started_at: str | None = Field(description="When the first attempt started.")
    finished_at: str | None
    worker_id: str | None = Field(description="The worker of the latest attempt.")
    progress: float | None = Field(description="0..1, as the running attempt reported it.")
    progress_message: str | None
    result: Any = Field(description="The handler's return value, once succeeded.")
    error: str | None = Field(description="The latest error, or why the job died.")
    next_attempt_at: str | None = Field(description="When a retrying job runs again.")
    cancel_requested: bool
    idempotency_key: str | None
    schedule: str | None = Field(None, description="The cron schedule that made the job.")
    schedule_tick_at: str | None = Field(None, description="The schedule's tick it ran for.")
    waiting_reason: str | None = Field(
        None, description="Why a waiting job was deferred: the limit it is over."
    )


class JobPageOut(BaseModel):
    """One page of jobs, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    jobs: list[JobStatusOut]
    next_cursor: str | None


class JobEventOut(BaseModel):
    """One entry of a job's history."""

    event_id: str
    job_id: str
    kind: str = Field(examples=["running"])
    attempt: int
    at: str
    job_type: str
    worker_id: str | None
    data: dict[str, Any] = Field(description="What the event carries: error, result, progress...")
    max_attempts: int | None
    created_at: str | None


class JobEventsOut(BaseModel):
    """A job's history, oldest first."""

    job_id: str
    events: list[JobEventOut]


async def _with_schedule(answer: dict[str, Any], schedules: ScheduleBook | None) -> dict[str, Any]:
    """The job's answer, with the schedule and tick that made it (cron ticks make delayed jobs,
    so a job without ``run_at`` is not looked up)."""
    if schedules is None or answer.get("run_at") is None:
        return answer
    tick = await schedules.tick_of_job(answer["id"])
    if tick is None:
        return answer
    return answer | {"schedule": tick.schedule, "schedule_tick_at": to_iso(tick.tick_at)}


def status_router(tracking: Tracking, schedules: ScheduleBook | None = None) -> APIRouter:
    """The status routes over the tracking's store (a job made by one of ``schedules`` names
    its schedule and tick)."""
    router = APIRouter(prefix="/jobs", tags=["status"])
    store = tracking.store

    @router.get("", response_model=JobPageOut, responses=error_responses(400, 422, 503))
    async def list_jobs(
        state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
        type: Annotated[
            str | None,
            Query(
                description="Only jobs of this type.",
                min_length=1,
                max_length=MAX_TYPE_LENGTH,
                pattern=JOB_TYPE_PATTERN,
            ),
        ] = None,
        since: Annotated[
            Rfc3339Time | None,
            Query(description="Only jobs submitted at this time (RFC 3339) or later."),
        ] = None,
        until: Annotated[
            Rfc3339Time | None,
            Query(description="Only jobs submitted before this time (RFC 3339)."),
        ] = None,
        job_id: Annotated[
            str | None,
            Query(
                alias="id",
                description="Only the job of this id, or the jobs whose id starts with it.",
                min_length=1,
                max_length=MAX_ID_LENGTH,
                pattern=NO_CONTROL_CHARACTERS,
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 50,
        cursor: Annotated[
            str | None,
            Query(description="next_cursor of a previous page.", min_length=1),
        ] = None,
    ) -> Response:
        """Jobs newest first, filtered by state, type, submission time and id, a page at a
        time."""
        page = await store.list(
            state, type, limit, cursor, since=since, until=until, id_prefix=job_id
        )
        jobs = [record.to_wire() for record in page.records]
        return json_response({"jobs": jobs, "next_cursor": page.next_cursor})

    @router.get("/{job_id}", response_model=JobStatusOut, responses=error_responses(404, 422, 503))
    async def get_job(
        job_id: JobId,
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=MAX_WAIT_S,
                description=f"Wait up to this many seconds (at most {MAX_WAIT_S:g}) "
                "for the job to finish before answering.",
            ),
        ] = 0.0,
    ) -> Response:
        """The job's state, attempts, times, worker, progress, and result or error."""
        if wait > 0:
            record = await tracking.watch.wait_final(store, job_id, min(wait, MAX_WAIT_S))
        else:
            record = await store.get(job_id)
        answer = _found(job_id, record).to_wire()
        return json_response(await _with_schedule(answer, schedules))

    @router.get(
        "/{job_id}/events", response_model=JobEventsOut, responses=error_responses(404, 503)
    )
    async def job_events(job_id: JobId) -> Response:
        """The job's history, oldest first: submitted, each attempt, retries, the end."""
        history = await store.events(job_id)
        if not history:
            _found(job_id, await store.get(job_id))
        events = [event.to_wire() for event in history]
        return json_response({"job_id": job_id, "events": events})

    @router.delete(
        "/{job_id}",
        response_model=JobStatusOut,
        responses={
            200: {"description": "Cancelled: the job had not started."},
            202: {"model": JobStatusOut, "description": "The running job was asked to stop."},
            **error_responses(404, 409, 503),
        },
    )
    async def cancel_job(job_id: JobId) -> Response:
        """Cancel a job that has not started (a worker that receives it skips it), or ask a
        running one to stop: its handler sees ``ctx.cancelled`` within a heartbeat interval. A
        finished job, a cancelled one included, answers 409."""
        before = _found(job_id, await store.get(job_id))
        if before.state is JobState.CANCELLED:
            raise JobFinished(f"job {job_id} already cancelled")
        record = _found(job_id, await store.request_cancel(job_id))
        if record.state not in (JobState.CANCELLED, JobState.RUNNING):
            raise JobFinished(f"job {job_id} already {record.state.value}; it cannot be cancelled")
        await tracking.cancelled([job_id])
        status = 200 if record.state is JobState.CANCELLED else 202
        return json_response(record.to_wire(), status)

    return router


def _found(job_id: str, record: JobRecord | None) -> JobRecord:
    if record is None:
        raise NotFound(f"no job with id {job_id!r}")
    return record
