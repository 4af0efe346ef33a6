"""``GET /scaling``: how many workers the queue wants and why, for external scalers (KEDA's
metrics API, a cron job, ``jobqueue up``); a read, so it needs the ``read`` scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from jobqueue.api.errors import error_response
from jobqueue.api.schemas import ErrorOut, error_responses, json_response
from jobqueue.names import quoted
from jobqueue.scaling.bounds import MAX_FLEET_WORKERS, Bounds
from jobqueue.scaling.view import Scaling

MAX_QUEUE_CHARS = 255

_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "min is above max."},
    404: {"model": ErrorOut, "description": "This API does not serve that queue."},
    **error_responses(422, 503),
}


class ScalingInputsOut(BaseModel):
    """What the decision was made from; null where a figure could not be read."""

    depth: int = Field(description="Jobs ready in the broker now.")
    oldest_ready_age_s: float | None = Field(description="Seconds the oldest ready job waited.")
    throughput_per_s: float | None = Field(description="Attempts finished per second lately.")
    in_flight: int = Field(
        description="Jobs the workers hold now: running, or delivered and waiting for a slot."
    )
    workers: int = Field(description="Live workers taking jobs (active or paused).")
    concurrency: int = Field(description="Jobs one worker runs at once.")


class ScalingOut(BaseModel):
    """The desired worker count of a queue, its inputs and the rule's settings."""

    queue: str
    desired_workers: int
    reason: str = Field(description="The part of the rule that decided the count.")
    inputs: ScalingInputsOut
    min: int
    max: int
    target_drain_s: float = Field(description="A backlog is to be drained within this long.")
    max_wait_s: float = Field(description="A ready job waiting longer asks for one more worker.")
    read_at_unix: float


def scaling_router(scaling: Scaling) -> APIRouter:
    """The ``/scaling`` route over ``scaling``."""
    router = APIRouter(tags=["scaling"])

    @router.get("/scaling", response_model=ScalingOut, responses=_ANSWERS)
    async def show_scaling(
        queue: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_QUEUE_CHARS,
                description="The queue (this API's own; the only one it can answer for).",
            ),
        ] = None,
        fewest: Annotated[
            int | None,
            Query(
                alias="min",
                ge=0,
                le=MAX_FLEET_WORKERS,
                description="Fewest workers (default: the API's).",
            ),
        ] = None,
        most: Annotated[
            int | None,
            Query(
                alias="max",
                ge=1,
                le=MAX_FLEET_WORKERS,
                description="Most workers (default: the API's).",
            ),
        ] = None,
    ) -> Response:
        """The number of workers the queue wants now, within ``min`` and ``max``: enough job
        slots for the jobs running and to drain the ready ones within ``target_drain_s`` at the
        fleet's pace, at least one more than now when the oldest ready job has waited past
        ``max_wait_s``; with the inputs it was decided from. The bounds default to the API's
        ``JOBQUEUE_WORKERS=MIN:MAX``."""
        if queue is not None and queue != scaling.queue:
            message = f"this API serves the queue {quoted(scaling.queue)}, not {quoted(queue)}"
            return error_response(404, "not_found", message)
        lowest = scaling.settings.bounds.min if fewest is None else fewest
        highest = scaling.settings.bounds.max if most is None else most
        if lowest > highest:
            return error_response(400, "invalid_query", f"min {lowest} is above max {highest}")
        answer = await scaling.answer(Bounds(lowest, highest))
        if answer is None:
            message = "broker unavailable: the queue's depth cannot be read"
            return error_response(503, "broker_unavailable", message, {"Retry-After": "1"})
        return json_response(answer.as_dict(scaling.settings))

    return router
