"""Fleet routes: list and show live workers, and send them pause, resume and drain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from jobqueue.api.schemas import ErrorOut, error_responses, json_response
from jobqueue.errors import NotFound
from jobqueue.registry import Command, Registry, WorkerInfo, WorkerState

WorkerId = Annotated[str, Path(description="The worker's id, as it registered.")]

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
    """Every live worker, ordered by id."""

    workers: list[WorkerOut]


class CommandOut(BaseModel):
    """A command left for a worker; it takes it with its next heartbeat."""

    worker_id: str
    command: str


def workers_router(registry: Registry) -> APIRouter:
    """The ``/workers`` routes over ``registry``."""
    router = APIRouter(prefix="/workers", tags=["workers"])

    @router.get("", response_model=WorkerListOut, responses=_REGISTRY_DOWN)
    async def list_workers() -> Response:
        """Every live worker with everything it reported, seconds since seen, and its state."""
        workers = await registry.workers()
        return json_response({"workers": [info.to_dict() for info in workers]})

    @router.get(
        "/{worker_id:path}",
        response_model=WorkerOut,
        responses=error_responses(404) | _REGISTRY_DOWN,
    )
    async def show_worker(worker_id: WorkerId) -> Response:
        """One live worker."""
        return json_response((await _live(registry, worker_id)).to_dict())

    for command in Command:
        router.add_api_route(
            f"/{{worker_id:path}}/{command}",
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


async def _live(registry: Registry, worker_id: str) -> WorkerInfo:
    info = await registry.get(worker_id)
    if info is None:
        raise NotFound(f"no live worker with id {worker_id!r}")
    return info
