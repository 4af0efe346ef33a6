"""The ``jobqueue workers`` commands: the live fleet as a table, and pause, resume, drain.

They ask a running API over HTTP (``GET /workers``, ``POST /workers/{id}/pause``...), the same
routes a dashboard uses: the registry lives in the API process (or in the Redis it shares). The
list follows ``GET /workers``'s pages to the last.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from jobqueue import config
from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.table import KEEP, Column, fit_table, print_table, terminal_width
from jobqueue.cli.terminal import printable, to_json
from jobqueue.cli.tls_options import TlsCa
from jobqueue.registry import Command

SubApiUrl = Annotated[
    str | None,
    typer.Option(envvar=config.env("api_url"), help="Base URL of a running jobqueue API."),
]
WorkerId = Annotated[str, typer.Argument(help="The worker's id, as `jobqueue workers` shows it.")]
PAGE_WORKERS = 1000

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
    tls_ca: TlsCa = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per line, a worker each: worker_id, state, pending_command, "
            "load, concurrency, queue, job_types, host, pid, version, processed, failed, "
            "seen_ago_s, started_at_unix.",
        ),
    ] = False,
) -> None:
    """List the live workers: state, load, queue, job types, host, counts, when last seen.

    On a narrow terminal the table keeps the id, state, load and when last seen, and drops
    the other columns as it must (the version first); --json has every field.
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = (api_url, tls_ca)  # `jobqueue workers --api-url URL pause ID` means URL
        return
    workers = every_worker(api_url, tls_ca)
    if as_json:
        for worker in workers:
            typer.echo(to_json(worker))
        return
    print_table(workers_table(workers, terminal_width()))


def every_worker(api_url: str, tls_ca: str | None = None) -> list[dict[str, Any]]:
    """Every live worker, ordered by id, from as many pages of ``GET /workers`` as there are."""
    workers: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": PAGE_WORKERS}
    while True:
        page = request(api_url, "GET", "/workers", params=params, tls_ca=tls_ca)
        workers += page["workers"]
        if not page.get("next_cursor"):
            return workers
        params = {"limit": PAGE_WORKERS, "cursor": page["next_cursor"]}


def _send(
    ctx: typer.Context, command: Command, worker_id: str, api_url: str | None, tls_ca: str | None
) -> None:
    group_url, group_ca = ctx.obj or (None, None)
    api_url = api_url or group_url or API_URL
    path = f"/workers/{quote(worker_id, safe='')}/{command}"
    request(api_url, "POST", path, tls_ca=tls_ca or group_ca)
    typer.echo(f"{command} sent to {printable(worker_id)}: it applies it with its next heartbeat")


@workers_app.command("pause")
def pause(
    ctx: typer.Context, worker_id: WorkerId, api_url: SubApiUrl = None, tls_ca: TlsCa = None
) -> None:
    """Ask a worker to stop taking jobs (jobs in flight keep running)."""
    _send(ctx, Command.PAUSE, worker_id, api_url, tls_ca)


@workers_app.command("resume")
def resume(
    ctx: typer.Context, worker_id: WorkerId, api_url: SubApiUrl = None, tls_ca: TlsCa = None
) -> None:
    """Ask a paused worker to take jobs again."""
    _send(ctx, Command.RESUME, worker_id, api_url, tls_ca)


@workers_app.command("drain")
def drain(
    ctx: typer.Context, worker_id: WorkerId, api_url: SubApiUrl = None, tls_ca: TlsCa = None
) -> None:
    """Ask a worker to finish its jobs in flight and exit."""
    _send(ctx, Command.DRAIN, worker_id, api_url, tls_ca)


WORKER_COLUMNS = (
    Column("ID", KEEP),
    Column("STATE", 1),
    Column("LOAD", 2, justify="right"),
    Column("QUEUE", 8),
    Column("JOB TYPES", 4, free_text=True, min_width=10),
    Column("HOST", 7),
    Column("VERSION", 10),
    Column("DONE", 5, justify="right"),
    Column("FAILED", 6, justify="right"),
    Column("SEEN", 3, justify="right"),
    Column("UP", 9, justify="right"),
)
"""The fleet's columns; on a narrow terminal the highest drop rank goes first."""


def workers_table(
    workers: list[dict[str, Any]], width: int, now_unix: float | None = None
) -> Table:
    """The fleet as a table ``width`` cells wide at most, one row per worker."""
    now_unix = time.time() if now_unix is None else now_unix
    title = _title(workers)
    rows = [_row(worker, now_unix) for worker in workers]
    return fit_table(WORKER_COLUMNS, rows, width, title=title)


def _title(workers: list[dict[str, Any]]) -> str:
    """``2 live workers``, or ``1 live worker, 1 drained`` when some have drained and left."""
    drained = sum(1 for worker in workers if worker["state"] == "drained")
    live = len(workers) - drained
    title = f"{live} live worker{'s' if live != 1 else ''}"
    return f"{title}, {drained} drained" if drained else title


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
