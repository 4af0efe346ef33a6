"""The ``jobqueue status`` command: what happened to a job, asked of a running API over HTTP."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.table import Table

from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.table import field_table
from jobqueue.cli.terminal import to_json
from jobqueue.cli.tls_options import TlsCa

JobId = Annotated[str, typer.Argument(help="The job's id, as the submission answered it.")]
RESULT_PREVIEW_CHARS = 2000


def register(app: typer.Typer) -> None:
    """Add ``jobqueue status`` to the app."""
    app.command("status")(status)


def status(
    job_id: JobId,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    wait_s: Annotated[
        float,
        typer.Option("--wait", min=0, max=60, help="Wait up to this many seconds to finish."),
    ] = 0.0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="The job as one JSON object on one line, as GET /jobs/{id} answers it: id, "
            "type, payload, state, attempts, max_attempts, priority, created_at, started_at, "
            "finished_at, worker_id, progress, progress_message, result, error, ...",
        ),
    ] = False,
) -> None:
    """Show a job: state, attempts, times, worker, progress, and its result or error."""
    job = fetch_job(api_url, job_id, wait_s, tls_ca)
    if as_json:
        typer.echo(to_json(job))
        return
    Console().print(job_table(job))


def fetch_job(
    api_url: str, job_id: str, wait_s: float = 0.0, tls_ca: str | None = None
) -> dict[str, Any]:
    """``GET /jobs/{id}`` (long-polling up to ``wait_s``); NotFound for an unknown id."""
    params = {"wait": wait_s} if wait_s > 0 else None
    path = f"/jobs/{quote(job_id, safe='')}"
    return request(api_url, "GET", path, params=params, timeout_s=wait_s + 10.0, tls_ca=tls_ca)


def job_table(job: dict[str, Any]) -> Table:
    """A job as a two-column table: field, value (only the fields that say something)."""
    return field_table(_rows(job))


def _rows(job: dict[str, Any]) -> list[tuple[str, str]]:
    attempts = str(job["attempts"])
    if job.get("max_attempts"):
        attempts += f" of {job['max_attempts']}"
    state = job["state"] + (" (cancel requested)" if job.get("cancel_requested") else "")
    rows = [("id", job["id"]), ("type", job["type"]), ("state", state), ("attempts", attempts)]
    if job.get("priority"):
        rows.append(("priority", str(job["priority"])))
    times = ("created_at", "run_at", "started_at", "finished_at", "next_attempt_at")
    for name in (*times, "worker_id"):
        if job.get(name):
            rows.append((name.replace("_", " "), str(job[name])))
    if job.get("progress") is not None:
        message = f" {job['progress_message']}" if job.get("progress_message") else ""
        rows.append(("progress", f"{job['progress'] * 100:.0f}%{message}"))
    if job.get("error"):
        rows.append(("earlier error" if job["state"] == "succeeded" else "error", job["error"]))
    if job["state"] == "succeeded":
        rows.append(("result", preview(job.get("result"))))
    return rows


def preview(value: Any) -> str:
    """A JSON value on one line, cut to a readable length."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > RESULT_PREVIEW_CHARS:
        return text[:RESULT_PREVIEW_CHARS] + f"... ({len(text)} characters)"
    return text
