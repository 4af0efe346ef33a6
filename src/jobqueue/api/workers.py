"""Fleet routes: list and show live workers, and send them pause, resume and drain.

``GET /workers`` answers a page: the first ``limit`` workers by id after ``cursor`` (a worker
id), and never more than ``MAX_PAGE_BYTES`` of them, with the ``next_cursor`` to pass for the
next page (null on the last). A worker id is one path segment: ids with a ``/`` are refused at
registration, so ``/workers/{id}/drain`` can never name a worker called ``{id}/drain``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from jobqueue import codec
from jobqueue.api.schemas import ErrorOut, error_responses, json_response
from jobqueue.errors import NotFound
from jobqueue.registry import MAX_WORKER_ID_CHARS, Command, Registry, WorkerInfo, WorkerState
from jobqueue.registry.page import DEFAULT_PAGE_WORKERS, MAX_PAGE_WORKERS, fitting

WorkerId = Annotated[
    str,
    Path(
        description="The worker's id, as it registered (1 to 128 printable characters, no '/').",
        min_length=1,
        max_length=MAX_WORKER_ID_CHARS,
    ),
]
Limit = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_WORKERS, description="Most workers in the page."),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_WORKER_ID_CHARS,
        description="List the workers whose id sorts after this one: a page's next_cursor.",
    ),
]

_REGISTRY_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "The worker registry (Redis) is unavailable."}
}


class WorkerOut(BaseModel):
    """A live worker: what it last reported, and when it was heard from."""

    worker_id: str
    load: int = Field(description="Jobs in flight (0 is idle).")
    concurrency: int = Field(description="Jobs it runs at once at most (0: not reported).")
    job_types: list[str]
    queue: str
    host: str
    pid: int
    version: str
    started_at_unix: float
    processed: int = Field(description="Jobs finished since it started.")
    failed: int = Field(description="Attempts that failed since it started.")
    job_ids: list[str] = Field(description="The jobs it holds now.")
    state: str = Field(
        description="active, paused or draining, as the worker reports it; drained once it left "
        "after a drain (listed for an hour, or until it registers again)."
    )
    broker: str = Field(
        description="The broker it consumes (an embedded one by its absolute path; '': not said)."
    )
    last_seen_unix: float
    seen_ago_s: float = Field(description="Seconds since its last registration or heartbeat.")
    registered_at_unix: float
    pending_command: str | None = Field(description="A command waiting for its next heartbeat.")


class WorkerListOut(BaseModel):
    """A page of live workers, ordered by id; pass ``next_cursor`` as ``cursor`` for the next."""

    workers: list[WorkerOut]
    next_cursor: str | None = Field(
        description="The last worker id of this page when more follow; null on the last page."
    )


class CommandOut(BaseModel):
    """A command left for a worker; it takes it with its next heartbeat."""

    worker_id: str
    command: str


def workers_router(registry: Registry) -> APIRouter:
    """The ``/workers`` routes over ``registry``."""
    router = APIRouter(prefix="/workers", tags=["workers"])

    @router.get("", response_model=WorkerListOut, responses=error_responses(422) | _REGISTRY_DOWN)
    async def list_workers(limit: Limit = DEFAULT_PAGE_WORKERS, cursor: Cursor = None) -> Response:
        """Live workers by id, a page at a time, with everything each reported, seconds since
        seen, and its state."""
        workers = await registry.workers(cursor or "", limit + 1)
        return _page(workers, limit)

    @router.get(
        "/{worker_id}",
        response_model=WorkerOut,
        responses=error_responses(404) | _REGISTRY_DOWN,
    )
    async def show_worker(worker_id: WorkerId) -> Response:
        """One live worker."""
        return json_response((await _live(registry, worker_id)).to_dict())

    for command in Command:
        router.add_api_route(
            f"/{{worker_id}}/{command}",
            _command_route(registry, command),
            methods=["POST"],
            status_code=202,
            response_model=CommandOut,
            responses=error_responses(404) | _REGISTRY_DOWN,
            summary=f"{command.capitalize()} a worker",
            name=f"{command}_worker",
        )
    return router


_DESCRIPTIONS = {
    Command.PAUSE: "Stop taking jobs; jobs in flight keep running.",
    Command.RESUME: "Take jobs again after a pause.",
    Command.DRAIN: "Finish the jobs in flight, then exit.",
}


def _command_route(registry: Registry, command: Command) -> Callable[[str], Awaitable[Response]]:
    async def send(worker_id: WorkerId) -> Response:
        if not await registry.send_command(worker_id, command):
            info = await registry.get(worker_id)
            if info is not None and info.state is WorkerState.DRAINED:
                raise NotFound(
                    f"worker {worker_id!r} was drained and has left; it takes no commands"
                )
            raise NotFound(f"no live worker with id {worker_id!r}")
        return json_response({"worker_id": worker_id, "command": str(command)}, 202)

    send.__doc__ = (
        f"{_DESCRIPTIONS[command]} The worker gets the command with its next heartbeat "
        "(the last command sent before it wins)."
    )
    return send


def _page(workers: list[WorkerInfo], limit: int) -> Response:
    """The JSON page of the first ``limit`` of ``workers`` (one more was asked for, to know
    whether more follow), cut short to stay within ``MAX_PAGE_BYTES``."""
    encoded = [codec.dumps(info.to_dict()) for info in workers[:limit]]
    count = fitting([len(item) for item in encoded])
    more = count < len(workers)
    cursor = workers[count - 1].worker_id if more else None
    body = b'{"workers":[' + b",".join(encoded[:count]) + b'],"next_cursor":'
    return Response(body + codec.dumps(cursor) + b"}", media_type="application/json")


async def _live(registry: Registry, worker_id: str) -> WorkerInfo:
    info = await registry.get(worker_id)
    if info is None:
        raise NotFound(f"no live worker with id {worker_id!r}")
    return info
