"""Dead-letter triage routes: dead jobs grouped by error fingerprint; replay a group, or chosen
ids, in the background at a pace; purge a group.

The routes live under ``/dlq`` beside the dead-letter routes, and are included before them so
that ``/dlq/groups`` is not taken for a dead job's id.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictFloat
from starlette.responses import Response

from jobqueue.api.schemas import NO_CONTROL_CHARACTERS, error_responses, json_response
from jobqueue.brokers import Broker
from jobqueue.errors import NotFound
from jobqueue.triage.fingerprint import FINGERPRINT_HEX
from jobqueue.triage.groups import DEFAULT_SCAN, MAX_SCAN, DeadGroup, group_dead_jobs
from jobqueue.triage.replay import Replays, group_ids, purge_group

MAX_SELECTED = 10_000
"""Ids one ``POST /dlq/replay-selected`` may name."""
MAX_ID_LENGTH = 255

FingerprintParam = Annotated[
    str,
    Path(
        description="A group's fingerprint, as GET /dlq/groups lists it.",
        pattern=f"^[0-9a-f]{{{FINGERPRINT_HEX}}}$",
    ),
]
ScanParam = Annotated[
    int,
    Query(ge=1, le=MAX_SCAN, description="How many dead jobs to look at, oldest first."),
]
PerSecondParam = Annotated[
    float | None,
    Query(gt=0, le=1_000_000, description="Replay at most this many jobs a second."),
]


class DeadGroupOut(BaseModel):
    """Dead jobs of one type that died of the same error (numbers, ids, quoted values masked)."""

    fingerprint: str = Field(description="Digest of job type, exception type, masked message.")
    job_type: str | None = Field(description="Null for bodies that are not jobs.")
    error_type: str = Field(
        examples=["ValueError"],
        description="The exception's type, else why the job died (unknown_type, ...).",
    )
    message: str = Field(examples=["user <n> not found in '<v>'"])
    count: int
    first_seen_unix: float | None = Field(description="The earliest death, Unix seconds.")
    last_seen_unix: float | None = Field(description="The latest death, Unix seconds.")
    sample_job_id: str = Field(description="The latest dead job of the group.")
    sample_error: str | None
    sample_traceback: str | None


class DeadGroupsOut(BaseModel):
    """The groups of the dead jobs looked at, the biggest first."""

    groups: list[DeadGroupOut]
    scanned: int = Field(description="How many dead jobs were looked at.")


class ReplayingOut(BaseModel):
    """A replay under way in the background."""

    replaying: int = Field(description="How many dead jobs it will replay.")


class PurgedOut(BaseModel):
    """How many dead jobs were deleted."""

    purged: int


class ReplaySelectedRequest(BaseModel):
    """Dead jobs to replay, by id."""

    model_config = ConfigDict(extra="forbid")

    ids: list[
        Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_CONTROL_CHARACTERS)]
    ] = Field(min_length=1, max_length=MAX_SELECTED)
    per_second: StrictFloat | None = Field(
        default=None, gt=0, le=1_000_000, description="Replay at most this many a second."
    )


def triage_router(broker: Broker, replays: Replays) -> APIRouter:
    """The triage routes over ``broker`` (paths relative to ``/dlq``, whose router includes
    them); replays run in ``replays``."""
    router = APIRouter(tags=["dead-letter queue"])

    @router.get("/groups", response_model=DeadGroupsOut, responses=error_responses(422, 503))
    async def list_groups(scan: ScanParam = DEFAULT_SCAN) -> Response:
        """The oldest ``scan`` dead jobs grouped by error fingerprint, the biggest group first."""
        dead = await broker.dead_jobs(scan)
        groups = [_group_view(group) for group in group_dead_jobs(dead)]
        return json_response({"groups": groups, "scanned": len(dead)})

    @router.post(
        "/groups/{fingerprint}/replay",
        status_code=202,
        response_model=ReplayingOut,
        responses=error_responses(404, 422, 503),
    )
    async def replay_group(
        fingerprint: FingerprintParam,
        per_second: PerSecondParam = None,
        scan: ScanParam = DEFAULT_SCAN,
    ) -> Response:
        """Replay the group's dead jobs (those that are jobs) in the background, at most
        ``per_second`` a second if given; answers at once how many it will replay."""
        ids = await group_ids(broker, fingerprint, scan)
        if ids is None:
            raise NotFound(f"no dead job group with fingerprint {fingerprint!r}")
        replays.start(ids, per_second)
        return json_response({"replaying": len(ids)}, 202)

    @router.delete(
        "/groups/{fingerprint}", response_model=PurgedOut, responses=error_responses(404, 422, 503)
    )
    async def purge_one_group(
        fingerprint: FingerprintParam, scan: ScanParam = DEFAULT_SCAN
    ) -> Response:
        """Delete the group's dead jobs."""
        purged = await purge_group(broker, fingerprint, scan)
        if purged is None:
            raise NotFound(f"no dead job group with fingerprint {fingerprint!r}")
        return json_response({"purged": purged})

    @router.post(
        "/replay-selected",
        status_code=202,
        response_model=ReplayingOut,
        responses=error_responses(422, 503),
    )
    async def replay_selected(request: ReplaySelectedRequest) -> Response:
        """Replay the dead jobs of these ids in the background (ids no longer dead are
        skipped); answers at once how many ids it will replay."""
        ids = list(dict.fromkeys(request.ids))
        replays.start(ids, request.per_second)
        return json_response({"replaying": len(ids)}, 202)

    return router


def _group_view(group: DeadGroup) -> dict[str, Any]:
    return dataclasses.asdict(group)
