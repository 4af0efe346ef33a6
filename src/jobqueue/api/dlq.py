"""Dead-letter queue routes: list and show dead jobs, replay one or all, purge; and the triage
routes (:mod:`jobqueue.api.triage`: groups by error fingerprint, paced replays).

A replayed job is put back to ``queued`` in the job store (when there is one) with its history
kept; a store that fails then is logged, not answered: the job is queued all the same.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from jobqueue.api.schemas import (
    CountOut,
    DeadJobDetailOut,
    DeadJobListOut,
    JobOut,
    error_responses,
    json_response,
)
from jobqueue.api.triage import PerSecondParam, ReplayingOut, triage_router
from jobqueue.brokers import Broker
from jobqueue.errors import NotFound
from jobqueue.store import Store
from jobqueue.triage.replay import Replays, record_requeued
from jobqueue.views import dead_job_detail, dead_job_view

MAX_LIST_LIMIT = 1000
REPLAY_SNAPSHOT = 100_000
"""Replay all: the dead jobs looked at first, to tell the store which jobs are queued again."""

__all__ = ["dlq_router", "record_requeued"]

JobId = Annotated[str, Path(description="The dead job's id (its message id).")]


def dlq_router(
    broker: Broker, store: Store | None = None, replays: Replays | None = None
) -> APIRouter:
    """The dead-letter routes over ``broker``; replays are recorded in ``store``, and the
    background ones run in ``replays``."""
    replays = replays or Replays(broker, store)
    router = APIRouter(prefix="/dlq", tags=["dead-letter queue"])
    router.include_router(triage_router(broker, replays))

    @router.get("", response_model=DeadJobListOut, responses=error_responses(422, 503))
    async def list_dead_jobs(
        limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 100,
    ) -> Response:
        """The oldest ``limit`` dead jobs, oldest first, without removing them."""
        dead_jobs = await broker.dead_jobs(limit)
        return json_response({"dead_jobs": [dead_job_view(dead) for dead in dead_jobs]})

    @router.post(
        "/replay",
        response_model=CountOut,
        responses={
            202: {"model": ReplayingOut, "description": "With per_second: replaying at that pace."},
            **error_responses(422, 503),
        },
    )
    async def replay_all(per_second: PerSecondParam = None) -> Response:
        """Queue every dead job that is a job again, with attempts reset. With ``per_second``,
        in the background at that pace (202, how many it will replay)."""
        if per_second is not None:
            ids = [
                d.message_id for d in await broker.dead_jobs(REPLAY_SNAPSHOT) if d.job is not None
            ]
            replays.start(list(dict.fromkeys(ids)), per_second)
            return json_response({"replaying": len(set(ids))}, 202)
        dead = await broker.dead_jobs(REPLAY_SNAPSHOT) if store is not None else []
        replayed = await broker.replay_all()
        await record_requeued(store, [job.fresh() for d in dead if (job := d.job) is not None])
        return json_response({"replayed": replayed})

    @router.delete("", response_model=CountOut, responses=error_responses(503))
    async def purge() -> Response:
        """Delete every dead job."""
        return json_response({"purged": await broker.purge_dead()})

    @router.get("/{job_id}", response_model=DeadJobDetailOut, responses=error_responses(404, 503))
    async def show_dead_job(job_id: JobId) -> Response:
        """One dead job with everything known about its death."""
        dead = await broker.dead_job(job_id)
        if dead is None:
            raise NotFound(f"no dead job with id {job_id!r}")
        return json_response(dead_job_detail(dead))

    @router.post(
        "/{job_id}/replay",
        status_code=202,
        response_model=JobOut,
        responses=error_responses(404, 409, 503),
    )
    async def replay_one(job_id: JobId) -> Response:
        """Queue the dead job again with attempts reset; answers the job as queued."""
        job = await broker.replay(job_id)
        if job is None:
            raise NotFound(f"no dead job with id {job_id!r}")
        await record_requeued(store, [job])
        return json_response(job.to_wire(), 202)

    return router
