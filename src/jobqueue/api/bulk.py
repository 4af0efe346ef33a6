"""``POST /jobs/bulk``: retry, cancel or delete many jobs at once, named by id or by filter.

- ``retry`` replays dead jobs from the dead-letter queue (a job not dead there is skipped) and
  records them as queued again;
- ``cancel`` does to each what ``DELETE /jobs/{id}`` does: a waiting job is cancelled, a
  running one asked to stop; finished ones are skipped;
- ``delete`` removes finished jobs' records and history from the store; a waiting or running
  job is skipped.

One request acts on at most :data:`MAX_BULK` jobs (the newest of a filter's), and says
``truncated`` when the filter matched more; ``dry_run`` counts what would be acted on and does
nothing, for a confirmation. Each request is one audit entry, ``job.bulk_<action>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, Self

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from starlette.responses import Response

from jobqueue.api.allow import refuses_methods
from jobqueue.api.schemas import (
    JOB_TYPE_PATTERN,
    NO_CONTROL_CHARACTERS,
    Rfc3339Time,
    error_responses,
    json_response,
)
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import note
from jobqueue.brokers import Broker
from jobqueue.handlers import MAX_TYPE_LENGTH
from jobqueue.job import JobState
from jobqueue.store import JobFilter
from jobqueue.triage.replay import record_requeued

MAX_BULK = 10_000
"""Jobs one bulk request acts on at most, so that no request holds the API for long."""
MAX_ID_LENGTH = 255
_NOT_POST = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]

JobIdText = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARACTERS)
]


class BulkFilter(BaseModel):
    """The jobs ``GET /jobs`` would list with the same parameters."""

    model_config = ConfigDict(extra="forbid")

    state: JobState | None = None
    type: str | None = Field(
        default=None, min_length=1, max_length=MAX_TYPE_LENGTH, pattern=JOB_TYPE_PATTERN
    )
    since: Rfc3339Time | None = Field(default=None, description="Submitted at or after.")
    until: Rfc3339Time | None = Field(default=None, description="Submitted before.")
    id: JobIdText | None = Field(default=None, description="An id, or the start of ids.")

    def job_filter(self) -> JobFilter:
        """The store's filter."""
        return JobFilter(self.state, self.type, self.since, self.until, self.id)


class BulkRequest(BaseModel):
    """A bulk action on jobs named by ``ids`` or by ``filter`` (one of the two)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["retry", "cancel", "delete"]
    ids: list[JobIdText] | None = Field(default=None, min_length=1, max_length=MAX_BULK)
    filter: BulkFilter | None = None
    dry_run: StrictBool = Field(default=False, description="Only count the jobs it would act on.")

    @model_validator(mode="after")
    def _one_selection(self) -> Self:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter")
        return self


class BulkOut(BaseModel):
    """What a bulk action did."""

    matched: int = Field(description=f"Jobs named or matched (at most {MAX_BULK}).")
    done: int = Field(description="Jobs acted on (0 for a dry run).")
    skipped: int = Field(description="Matched jobs the action does not apply to.")
    truncated: bool = Field(description=f"The filter matched more than {MAX_BULK} jobs.")


Action = Callable[[list[str]], Awaitable[int]]


def bulk_router(broker: Broker, tracking: Tracking) -> APIRouter:
    """``POST /jobs/bulk`` over ``broker`` (retries) and the tracking's store."""
    router = APIRouter(prefix="/jobs", tags=["status"])
    store = tracking.store

    async def retry(ids: list[str]) -> int:
        jobs = await broker.replay_ids(ids)
        await record_requeued(store, jobs)
        return len({job.id for job in jobs})

    async def cancel(ids: list[str]) -> int:
        changed = await store.request_cancels(ids)
        await tracking.cancelled([record.id for record in changed])
        return len(changed)

    actions: dict[str, Action] = {
        "retry": retry,
        "cancel": cancel,
        "delete": store.delete_finished,
    }

    @router.post("/bulk", response_model=BulkOut, responses=error_responses(422, 503))
    async def bulk_action(request: Request, body: BulkRequest) -> Response:
        """Retry (dead jobs), cancel (waiting or running jobs) or delete (finished jobs) the
        jobs named by ``ids`` or matched by ``filter``, at most 10,000 of them; ``dry_run``
        answers how many it matched and does nothing."""
        if body.ids is not None:
            ids, truncated = list(dict.fromkeys(body.ids)), False
        else:
            assert body.filter is not None
            ids = await store.job_ids(body.filter.job_filter(), MAX_BULK + 1)
            ids, truncated = ids[:MAX_BULK], len(ids) > MAX_BULK
        done = 0 if body.dry_run or not ids else await actions[body.action](ids)
        skipped = 0 if body.dry_run else len(ids) - done
        answer = {"matched": len(ids), "done": done, "skipped": skipped, "truncated": truncated}
        target = "ids" if body.ids is not None else "filter"
        note(request, f"job.bulk_{body.action}", target, done, {**answer, "dry_run": body.dry_run})
        return json_response(answer)

    # The status routes' GET and DELETE /jobs/{job_id} would take "bulk" for a job id: any
    # other method than POST is answered here first (this router is included before them).
    router.add_route("/jobs/bulk", _post_only, methods=_NOT_POST, include_in_schema=False)
    return router


@refuses_methods
async def _post_only(_request: Request) -> Response:
    raise HTTPException(405, headers={"Allow": "POST"})
