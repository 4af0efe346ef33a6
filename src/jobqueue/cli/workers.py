"""The ``jobqueue workers`` commands: the live fleet as a table, and pause, resume, drain.

They ask a running API over HTTP (``GET /workers``, ``POST /workers/{id}/pause``...), the same
routes a dashboard uses: the registry lives in the API process (or in the Redis it shares).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table

from jobqueue import config
from jobqueue.errors import JobqueueError, NotFound
from jobqueue.registry import Command

API_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0

ApiUrl = Annotated[
    str, typer.Option(envvar=config.env("api_url"), help="Base URL of a running jobqueue API.")
]
SubApiUrl = Annotated[
    str | None,
    typer.Option(envvar=config.env("api_url"), help="Base URL of a running jobqueue API."),
]
WorkerId = Annotated[str, typer.Argument(help="The worker's id, as `jobqueue workers` shows it.")]

workers_app = typer.Typer(
    help="The live workers: list them, or pause, resume or drain one.",
    invoke_without_command=True,
)


def register(app: typer.Typer) -> None:
    """Add ``jobqueue workers ...`` to the app."""
    app.add_typer(workers_app, name="workers")


@workers_app.callback()
def list_workers(
    ctx: typer.Context,
    api_url: ApiUrl = API_URL,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per worker.")] = False,
) -> None:
    """List the live workers: state, load, queue, job types, host, counts, when last seen."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = api_url  # `jobqueue workers --api-url URL pause ID` means URL
        return
    workers: list[dict[str, Any]] = request(api_url, "GET", "/workers")["workers"]
    if as_json:
        for worker in workers:
            typer.echo(json.dumps(worker, ensure_ascii=False))
        return
    Console().print(workers_table(workers))


def _send(ctx: typer.Context, command: Command, worker_id: str, api_url: str | None) -> None:
    api_url = api_url or ctx.obj or API_URL
    request(api_url, "POST", f"/workers/{quote(worker_id, safe='')}/{command}")
    typer.echo(f"{command} sent to {worker_id}: it applies it with its next heartbeat")


@workers_app.command("pause")
def pause(ctx: typer.Context, worker_id: WorkerId, api_url: SubApiUrl = None) -> None:
    """Ask a worker to stop taking jobs (jobs in flight keep running)."""
    _send(ctx, Command.PAUSE, worker_id, api_url)


@workers_app.command("resume")
def resume(ctx: typer.Context, worker_id: WorkerId, api_url: SubApiUrl = None) -> None:
    """Ask a paused worker to take jobs again."""
    _send(ctx, Command.RESUME, worker_id, api_url)


@workers_app.command("drain")
def drain(ctx: typer.Context, worker_id: WorkerId, api_url: SubApiUrl = None) -> None:
    """Ask a worker to finish its jobs in flight and exit."""
    _send(ctx, Command.DRAIN, worker_id, api_url)


def request(
    api_url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    timeout_s: float = TIMEOUT_S,
) -> dict[str, Any]:
    """Call the API; its JSON answer, or a one-line JobqueueError naming what went wrong."""
    try:
        response = httpx.request(
            method,
            api_url.rstrip("/") + path,
            content=body,
            headers=headers,
            params=params,
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise JobqueueError(f"cannot reach the API at {api_url}: {exc}") from None
    if response.is_success:
        answer: dict[str, Any] = response.json()
        return answer
    message = _error_message(response)
    if response.status_code == 404:
        raise NotFound(message)
    raise JobqueueError(f"the API answered {response.status_code}: {message}")


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200] or response.reason_phrase


def workers_table(workers: list[dict[str, Any]], now_unix: float | None = None) -> Table:
    """The fleet as a rich table, one row per worker."""
    now_unix = time.time() if now_unix is None else now_unix
    table = Table(title=f"{len(workers)} live worker{'s' if len(workers) != 1 else ''}")
    for column in ("ID", "STATE", "LOAD", "QUEUE", "JOB TYPES", "HOST", "VERSION"):
        table.add_column(column)
    for column in ("DONE", "FAILED", "SEEN", "UP"):
        table.add_column(column, justify="right")
    for worker in workers:
        table.add_row(*_row(worker, now_unix))
    return table


def _row(worker: dict[str, Any], now_unix: float) -> list[str]:
    state = worker["state"]
    if worker.get("pending_command"):
        state += f" ({worker['pending_command']} sent)"
    load = str(worker["load"])
    if worker["concurrency"]:
        load += f"/{worker['concurrency']}"
    host = f"{worker['host']}:{worker['pid']}" if worker["host"] else "-"
    started = worker["started_at_unix"]
    return [
        worker["worker_id"],
        state,
        load,
        worker["queue"] or "-",
        ", ".join(worker["job_types"]) or "-",
        host,
        worker["version"] or "-",
        str(worker["processed"]),
        str(worker["failed"]),
        f"{worker['seen_ago_s']:.1f}s ago",
        _duration(now_unix - started) if started else "-",
    ]


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
