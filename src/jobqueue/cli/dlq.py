"""The ``jobqueue dlq`` commands: list, show, group, replay and purge dead jobs, through the API.

They call a running API's ``/dlq`` routes (``--api-url``), as ``jobs`` and ``workers`` do;
``--broker-url`` opens a broker directly instead, for when the API is down.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jobqueue import config
from jobqueue.cli.client import API_URL, ApiUrl
from jobqueue.cli.dead_letters import DeadLetters, dead_letters
from jobqueue.cli.status import preview
from jobqueue.cli.table import KEEP, Column, field_table, fit_table, print_table, terminal_width
from jobqueue.cli.terminal import first_line, printable, to_json
from jobqueue.cli.tls_options import TlsCa
from jobqueue.errors import ConfigError
from jobqueue.job import iso_utc
from jobqueue.triage.groups import DEFAULT_SCAN, MAX_SCAN

DirectBrokerUrl = Annotated[
    str | None,
    typer.Option(
        "--broker-url",
        help="Open this broker directly instead of asking the API (when it is down): "
        "sqlite:///path or amqp://...",
    ),
]
Queue = Annotated[
    str, typer.Option(envvar=config.env("queue"), help="With --broker-url: the jobs queue.")
]
StoreUrl = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("store_url"),
        help="With --broker-url: the job store, told that replayed jobs are queued again "
        "(default: the one beside the embedded broker; none beside RabbitMQ).",
    ),
]
JobId = Annotated[str, typer.Argument(metavar="ID", help="The dead job's id.")]

DEAD_JOB_FIELDS = "id, type, attempts, reason, error, failed_at, worker_id, payload"
DEAD_COLUMNS = (
    Column("ID", KEEP),
    Column("TYPE", 2, free_text=True, min_width=8),
    Column("TRIES", 5, justify="right"),
    Column("REASON", 1),
    Column("FAILED AT", 4),
    Column("ERROR", 3, free_text=True, min_width=12),
)
"""The dead jobs' columns; on a narrow terminal the highest drop rank goes first."""
GROUP_COLUMNS = (
    Column("COUNT", KEEP, justify="right"),
    Column("TYPE", 3, free_text=True, min_width=8),
    Column("ERROR TYPE", 2, free_text=True, min_width=10),
    Column("MESSAGE", 1, free_text=True, min_width=12),
    Column("LAST SEEN", 4),
    Column("FINGERPRINT", KEEP),
)
"""The groups' columns."""
GROUP_FIELDS = (
    "fingerprint, job_type, error_type, message, count, first_seen_unix, last_seen_unix, "
    "sample_job_id, sample_error, sample_traceback"
)

dlq_app = typer.Typer(
    help="Inspect, replay and purge the dead-letter queue, through the API (or a broker "
    "directly, with --broker-url).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``jobqueue dlq ...`` to the app."""
    app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def list_dead(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Show at most this many.")] = 100,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=f"One JSON object per line, a dead job each: {DEAD_JOB_FIELDS} (and body, "
            "when the message is not a job).",
        ),
    ] = False,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    broker_url: DirectBrokerUrl = None,
    queue: Queue = config.QUEUE,
) -> None:
    """List dead jobs, oldest first.

    On a narrow terminal the table keeps the id, the reason, the type and the error (cut
    short), and drops the time and attempts; `show` and --json have every field.
    """
    dead_jobs = dead_letters(api_url, broker_url, queue, None, tls_ca).list(limit)
    if as_json:
        for dead in dead_jobs:
            typer.echo(to_json(dead))
    elif not dead_jobs:
        typer.echo("the dead-letter queue is empty")
    else:
        print_table(dead_jobs_table(dead_jobs, terminal_width()))


@dlq_app.command("show")
def show(
    job_id: JobId,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=f"The dead job as one JSON object on one line: {DEAD_JOB_FIELDS}, "
            "traceback, first_failed_at, job (the whole job as it was stored).",
        ),
    ] = False,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    broker_url: DirectBrokerUrl = None,
    queue: Queue = config.QUEUE,
) -> None:
    """Show one dead job: the job, why it died, the traceback."""
    detail = dead_letters(api_url, broker_url, queue, None, tls_ca).show(job_id)
    if as_json:
        typer.echo(to_json(detail))
        return
    Console().print(field_table(_detail_fields(detail)))


@dlq_app.command("groups")
def groups(
    scan: Annotated[
        int, typer.Option(min=1, max=MAX_SCAN, help="Group the oldest this many dead jobs.")
    ] = DEFAULT_SCAN,
    as_json: Annotated[
        bool,
        typer.Option("--json", help=f"One JSON object per line, a group each: {GROUP_FIELDS}."),
    ] = False,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    broker_url: DirectBrokerUrl = None,
    queue: Queue = config.QUEUE,
) -> None:
    """Dead jobs grouped by error: job type, exception type and message with its numbers, ids
    and quoted values masked; the biggest group first. Replay one with
    `jobqueue dlq replay --group FINGERPRINT`."""
    found = dead_letters(api_url, broker_url, queue, None, tls_ca).groups(scan)
    if as_json:
        for group in found:
            typer.echo(to_json(group))
    elif not found:
        typer.echo("the dead-letter queue is empty")
    else:
        print_table(fit_table(GROUP_COLUMNS, [_group_row(g) for g in found], terminal_width()))


@dlq_app.command("replay")
def replay(
    job_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The dead job's id.")] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead job.")] = False,
    group: Annotated[
        str | None,
        typer.Option("--group", metavar="FINGERPRINT", help="Replay a group's dead jobs."),
    ] = None,
    per_second: Annotated[
        float | None,
        typer.Option(
            "--per-second",
            min=0.001,
            help="With --group: replay at most this many a second (through the API, in the "
            "background).",
        ),
    ] = None,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    broker_url: DirectBrokerUrl = None,
    queue: Queue = config.QUEUE,
    store_url: StoreUrl = None,
) -> None:
    """Queue a dead job (or, with --all, every dead job; with --group, a group's) again with
    its attempts reset."""
    if [job_id is not None, replay_all, group is not None].count(True) != 1:
        raise ConfigError("give one of a dead job's id, --all or --group FINGERPRINT")
    if per_second is not None and group is None:
        raise ConfigError("--per-second goes with --group")
    letters = dead_letters(api_url, broker_url, queue, store_url, tls_ca)
    if group is not None:
        count = letters.replay_group(group, per_second)
        doing = "replaying" if broker_url is None else "replayed"
        typer.echo(f"{doing} {count} dead job(s) of group {printable(group)}")
    elif job_id is None:
        typer.echo(f"replayed {letters.replay_all()} dead job(s)")
    else:
        job = letters.replay(job_id)
        typer.echo(f"replayed {printable(job['id'])} (type {printable(job['type'])})")


@dlq_app.command("purge")
def purge(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    broker_url: DirectBrokerUrl = None,
    queue: Queue = config.QUEUE,
) -> None:
    """Delete every dead job, for good."""
    letters = dead_letters(api_url, broker_url, queue, None, tls_ca)
    if not yes:
        _confirm_purge(letters, queue if broker_url else None)
    typer.echo(f"purged {letters.purge()} dead job(s)")


def _confirm_purge(letters: DeadLetters, queue: str | None) -> None:
    if not sys.stdin.isatty():
        raise ConfigError("refusing to purge without confirmation: pass --yes")
    where = f" from {queue!r}" if queue is not None else ""
    if not typer.confirm(f"Delete {letters.count()} dead job(s){where} for good?"):
        raise ConfigError("purge cancelled")


def dead_jobs_table(dead_jobs: list[dict[str, Any]], width: int) -> Table:
    """Dead jobs as a table ``width`` cells wide at most, one row per dead job."""
    return fit_table(DEAD_COLUMNS, [_row(view) for view in dead_jobs], width)


def _row(view: dict[str, Any]) -> list[str]:
    return [
        view["id"],
        view["type"] or "(not a job)",
        str(view["attempts"]),
        view["reason"],
        view["failed_at"].replace("T", " ")[: len("2026-01-02 03:04:05")],
        first_line(view["error"]),
    ]


def _group_row(group: dict[str, Any]) -> list[str]:
    last_seen = group["last_seen_unix"]
    when = "?" if last_seen is None else iso_utc(datetime.fromtimestamp(last_seen, UTC))
    return [
        str(group["count"]),
        group["job_type"] if group["job_type"] is not None else "(not a job)",
        group["error_type"],
        group["message"],
        when.replace("T", " ")[: len("2026-01-02 03:04:05")],
        group["fingerprint"],
    ]


def _detail_fields(detail: dict[str, Any]) -> list[tuple[str, str]]:
    """A dead job's fields that say something, as (name, value) to show."""
    fields = [
        ("id", detail["id"]),
        ("type", detail["type"] or "(not a job)"),
        ("reason", detail["reason"]),
        ("attempts", str(detail["attempts"])),
    ]
    for name in ("worker_id", "first_failed_at", "failed_at", "error"):
        if detail.get(name):
            fields.append((name.replace("_", " "), str(detail[name])))
    if detail["type"] is not None:
        fields.append(("payload", preview(detail["payload"])))
    elif detail.get("body") is not None:
        fields.append(("body", detail["body"]))
    if detail.get("traceback"):
        fields.append(("traceback", detail["traceback"]))
    return fields
