"""``GET /stats/overview``: the overview of a window as JSON (needs ``read``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from jobqueue.api.schemas import error_responses, json_response
from jobqueue.stats.overview import OverviewReader


def stats_router(overview: OverviewReader) -> APIRouter:
    """The statistics routes over ``overview``."""
    router = APIRouter(prefix="/stats", tags=["statistics"])

    @router.get("/overview", responses=error_responses(422, 503))
    async def show_overview(
        window: Annotated[
            Literal["15m", "24h"], Query(description="The last 15 minutes or 24 hours.")
        ] = "15m",
    ) -> Response:
        """Jobs per second (submitted, succeeded, failed, dead) and queue depth by state over
        the window, in buckets (1 minute for 15m, 15 minutes for 24h; ``[unix time, value]``
        pairs, depth null where no sample was taken); the depth now; jobs by state in the
        store; all-time totals by outcome; wait and run time p50/p95 over the window; and the
        live workers by state with their jobs in flight and concurrency."""
        return json_response(await overview.read(window))

    return router
