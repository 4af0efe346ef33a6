"""The ``jobqueue jobs`` command: list jobs newest first, by state and type, over HTTP."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jobqueue.cli.status import preview
from jobqueue.cli.workers import API_URL, ApiUrl, request
from jobqueue.job import JobState

OUTCOME_CHARS = 80


def register(app: typer.Typer) -> None:
    """Add ``jobqueue jobs`` to the app."""
    app.command("jobs")(jobs)


def jobs(
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="Only jobs of this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Show at most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue a listing (next cursor).")] = None,
    api_url: ApiUrl = API_URL,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per job.")] = False,
) -> None:
    """List jobs newest first: id, type, state, attempts, when, and the result or error."""
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state.value
    if job_type is not None:
        params["type"] = job_type
    if cursor is not None:
        params["cursor"] = cursor
    page = request(api_url, "GET", "/jobs", params=params)
    if as_json:
        for job in page["jobs"]:
            typer.echo(json.dumps(job, ensure_ascii=False))
        return
    console = Console()
    console.print(jobs_table(page["jobs"]))
    if page.get("next_cursor"):
        console.print(f"more: jobqueue jobs --cursor {page['next_cursor']}", soft_wrap=True)


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    """Jobs as a rich table, one row per job."""
    table = Table(title=f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}")
    table.add_column("ID", no_wrap=True)
    for column in ("TYPE", "STATE", "ATTEMPTS", "CREATED", "FINISHED", "RESULT / ERROR"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(
            job["id"],
            job["type"],
            job["state"],
            str(job["attempts"]),
            _when(job["created_at"]),
            _when(job.get("finished_at")),
            _outcome(job),
        )
    return table


def _when(iso: str | None) -> str:
    """An ISO 8601 UTC time to the second, as ``2026-11-28 10:00:00``."""
    return iso[:19].replace("T", " ") if iso else "-"


def _outcome(job: dict[str, Any]) -> str:
    succeeded = job["state"] == "succeeded"
    text = preview(job.get("result")) if succeeded else str(job.get("error") or "")
    return text if len(text) <= OUTCOME_CHARS else text[: OUTCOME_CHARS - 3] + "..."
