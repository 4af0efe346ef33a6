"""The ``jobqueue dlq`` commands: list, show, replay and purge dead jobs, on the broker directly."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobqueue import config
from jobqueue.brokers import Broker, DeadJob, from_url
from jobqueue.cli.options import BrokerUrl, Queue
from jobqueue.errors import ConfigError, JobqueueError, NotFound
from jobqueue.job import Job
from jobqueue.store import Store
from jobqueue.views import dead_job_detail, dead_job_view

T = TypeVar("T")
WIDE_TABLE_CHARS = 120

StoreUrl = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("store_url"),
        help="The job store, told that replayed jobs are queued again (default: the one beside "
        "the embedded broker; none beside RabbitMQ).",
    ),
]
REPLAY_SNAPSHOT = 100_000

dlq_app = typer.Typer(
    help="Inspect, replay and purge the dead-letter queue.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``jobqueue dlq ...`` to the app."""
    app.add_typer(dlq_app, name="dlq")


def with_broker(url: str, queue: str, action: Callable[[Broker], Awaitable[T]]) -> T:
    """Connect to the broker, run ``action`` on it, close it; returns what ``action`` returned."""

    async def run() -> T:
        broker = from_url(url, queue)
        await broker.connect()
        try:
            return await action(broker)
        finally:
            await broker.close()

    return asyncio.run(run())


@dlq_app.command("list")
def list_dead(
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List dead jobs, oldest first."""
    dead_jobs = with_broker(broker_url, queue, lambda broker: broker.dead_jobs(limit))
    if as_json:
        for dead in dead_jobs:
            typer.echo(_to_json(dead_job_view(dead)))
        return
    _print_table(dead_jobs)


@dlq_app.command("show")
def show(
    job_id: Annotated[str, typer.Argument(help="The dead job's id.")],
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
) -> None:
    """Show one dead job as JSON: the job, why it died, the traceback."""
    dead = with_broker(broker_url, queue, lambda broker: broker.dead_job(job_id))
    if dead is None:
        raise NotFound(f"no dead job with id {job_id!r}")
    typer.echo(_to_json(dead_job_detail(dead), indent=2))


@dlq_app.command("replay")
def replay(
    job_id: Annotated[str | None, typer.Argument(help="The dead job's id.")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead job.")] = False,
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
    store_url: StoreUrl = None,
) -> None:
    """Queue a dead job (or, with --all, every dead job) again with its attempts reset."""
    if replay_all == (job_id is not None):
        raise ConfigError("give either a dead job's id or --all")
    if job_id is None:
        count, jobs = with_broker(broker_url, queue, _replay_every)
        typer.echo(f"replayed {count} dead job(s)")
    else:
        job = with_broker(broker_url, queue, lambda broker: broker.replay(job_id))
        if job is None:
            raise NotFound(f"no dead job with id {job_id!r}")
        jobs = [job]
        typer.echo(f"replayed {job.id} (type {job.type})")
    _record_requeued(store_url or _store_beside(broker_url), jobs)


async def _replay_every(broker: Broker) -> tuple[int, list[Job]]:
    """Replay every dead job; the jobs seen dead just before, to tell the store."""
    dead = await broker.dead_jobs(REPLAY_SNAPSHOT)
    count = await broker.replay_all()
    return count, [job.fresh() for d in dead if (job := d.job) is not None]


def _store_beside(broker_url: str) -> str | None:
    if not broker_url.lower().startswith("sqlite:"):
        return None
    from jobqueue.store import default_store_url

    return default_store_url(broker_url)


def _record_requeued(store_url: str | None, jobs: list[Job]) -> None:
    """Put the replayed jobs back to queued in the job store, if there is one (best effort)."""
    if store_url is None or not jobs:
        return
    from jobqueue.cli.db import with_store  # the store's driver loads only when one is used

    async def record(store: Store) -> None:
        if await store.schema_version() is not None:  # else no API ever kept status there
            await store.record_requeued(jobs)

    try:
        with_store(store_url, record)
    except JobqueueError as exc:
        typer.echo(f"warning: the job store was not told ({exc})", err=True)


@dlq_app.command("purge")
def purge(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
) -> None:
    """Delete every dead job, for good."""
    if not yes:
        _confirm_purge(broker_url, queue)
    count = with_broker(broker_url, queue, lambda broker: broker.purge_dead())
    typer.echo(f"purged {count} dead job(s)")


def _confirm_purge(broker_url: str, queue: str) -> None:
    if not sys.stdin.isatty():
        raise ConfigError("refusing to purge without confirmation: pass --yes")

    async def count_dead(broker: Broker) -> int:
        return (await broker.depth()).dead

    count = with_broker(broker_url, queue, count_dead)
    if not typer.confirm(f"Delete {count} dead job(s) from {queue!r} for good?"):
        raise ConfigError("purge cancelled")


def _print_table(dead_jobs: list[DeadJob]) -> None:
    console = Console()
    if not dead_jobs:
        console.print("the dead-letter queue is empty")
        return
    # The id is never shortened (it is what `show` and `replay` take); on a narrow terminal
    # the attempts and time give way (`show` and `--json` have them), then the error folds.
    wide = console.width >= WIDE_TABLE_CHARS
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("type", overflow="fold", min_width=8)
    if wide:
        table.add_column("tries", justify="right")
    table.add_column("reason", overflow="fold", min_width=8)
    if wide:
        table.add_column("failed at", no_wrap=True)
    table.add_column("error", overflow="fold", min_width=8)
    for dead in dead_jobs:
        table.add_row(*(Text(cell) for cell in _row(dead_job_view(dead), wide)))
    console.print(table)


def _row(view: dict[str, Any], wide: bool) -> list[str]:
    """The cells of a dead job's row; Text, not markup, so an error like "[red]" shows as is."""
    row = [view["id"], view["type"] or "(not a job)"]
    if wide:
        row.append(str(view["attempts"]))
    row.append(view["reason"])
    if wide:
        row.append(view["failed_at"].replace("T", " ")[: len("2026-01-02 03:04:05")])
    row.append(_one_line(view["error"]))
    return row


def _one_line(text: str | None, max_chars: int = 60) -> str:
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= max_chars else line[: max_chars - 1] + "…"


def _to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False)
