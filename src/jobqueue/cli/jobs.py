"""The ``jobqueue jobs`` command: list jobs newest first, by state and type, over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.status import preview
from jobqueue.cli.table import KEEP, Column, fit_table, print_table, terminal_width
from jobqueue.cli.terminal import first_line, to_json
from jobqueue.cli.tls_options import TlsCa
from jobqueue.job import JobState

JOB_COLUMNS = (
    Column("ID", KEEP),
    Column("TYPE", 2, free_text=True, min_width=8),
    Column("STATE", 1),
    Column("TRIES", 5, justify="right"),
    Column("CREATED", 4),
    Column("FINISHED", 6),
    Column("RESULT / ERROR", 3, free_text=True, min_width=14),
)
"""The jobs' columns; on a narrow terminal the highest drop rank goes first."""


def register(app: typer.Typer) -> None:
    """Add ``jobqueue jobs`` to the app."""
    app.command("jobs")(jobs)


def jobs(
    state: Annotated[
        JobState | None,
        typer.Option(
            metavar="<state>",
            help="Only jobs in this state: " + ", ".join(state.value for state in JobState) + ".",
        ),
    ] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="Only jobs of this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Show at most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue a listing (next cursor).")] = None,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per line, a job each, as `jobqueue status --json` shows it; "
            "the command for the next page goes to stderr.",
        ),
    ] = False,
) -> None:
    """List jobs newest first: id, type, state, attempts, when, and the result or error.

    On a narrow terminal the table keeps the id, state, type and the result or error (cut
    short), and drops the times and attempts; --json has every field.
    """
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state.value
    if job_type is not None:
        params["type"] = job_type
    if cursor is not None:
        params["cursor"] = cursor
    page = request(api_url, "GET", "/jobs", params=params, tls_ca=tls_ca)
    if as_json:
        for job in page["jobs"]:
            typer.echo(to_json(job))
    else:
        print_table(jobs_table(page["jobs"], terminal_width()))
    if page.get("next_cursor"):
        more = Text(f"more: jobqueue jobs --cursor {page['next_cursor']}")
        Console(stderr=as_json).print(more, soft_wrap=True)


def jobs_table(jobs: list[dict[str, Any]], width: int) -> Table:
    """Jobs as a table ``width`` cells wide at most, one row per job."""
    title = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"
    return fit_table(JOB_COLUMNS, [_row(job) for job in jobs], width, title=title)


def _row(job: dict[str, Any]) -> list[str]:
    return [
        job["id"],
        job["type"],
        job["state"],
        str(job["attempts"]),
        _when(job["created_at"]),
        _when(job.get("finished_at")),
        _outcome(job),
    ]


def _when(iso: str | None) -> str:
    """An ISO 8601 UTC time to the second, as ``2026-11-28 10:00:00``."""
    return iso[:19].replace("T", " ") if iso else "-"


def _outcome(job: dict[str, Any]) -> str:
    if job["state"] == "succeeded":
        return preview(job.get("result"))
    return first_line(job.get("error"))
