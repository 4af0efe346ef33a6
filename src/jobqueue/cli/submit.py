"""The ``jobqueue submit`` command: submit a job over HTTP and, with ``--wait``, follow it."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from jobqueue import codec
from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.status import fetch_job, job_table
from jobqueue.cli.terminal import printable, to_json
from jobqueue.cli.tls_options import TlsCa
from jobqueue.errors import InvalidJob, JobqueueError
from jobqueue.limits.policy import JobLimit

FINAL_STATES = ("succeeded", "dead", "cancelled")
POLL_WAIT_S = 1.0
"""Each long-poll waits this long at most, so that the progress bar moves."""


def register(app: typer.Typer) -> None:
    """Add ``jobqueue submit`` to the app."""
    app.command("submit")(submit)


def submit(
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="The job type (its handler).")],
    payload: Annotated[
        str, typer.Argument(metavar="JSON", help="The payload, as JSON (default {}).")
    ] = "{}",
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show progress until the job finishes.")
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Submit at most once under this key (safe to run again)."),
    ] = None,
    max_attempts: Annotated[
        int | None, typer.Option(min=1, help="Attempts before the job is dead-lettered.")
    ] = None,
    priority: Annotated[
        int | None, typer.Option(min=0, max=9, help="0 (default) to 9: higher ones run first.")
    ] = None,
    timeout_s: Annotated[
        float | None, typer.Option(min=0, help="With --wait: give up after this long.")
    ] = None,
    delay_s: Annotated[
        float | None, typer.Option(min=0, help="Run it this many seconds from now.")
    ] = None,
    run_at: Annotated[
        str | None,
        typer.Option(help="Run it at this RFC 3339 time, with an offset (2027-01-31T09:00:00Z)."),
    ] = None,
    concurrency_key: Annotated[
        str | None, typer.Option(help="Its key for fleet-wide limits (customer:42).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="At most this many of its type (or key) running at once.")
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="At most this many of them starting: 10/s, 600/m, 5/h.")
    ] = None,
) -> None:
    """Submit a job; with --wait, follow it and exit 1 unless it succeeds."""
    body = _payload(payload)
    when = {
        name: value
        for name, value in (("delay_s", delay_s), ("run_at", run_at))
        if value is not None
    }
    when.update(_limit_fields(concurrency_key, concurrency, rate))
    job = post_job(
        api_url, job_type, body, idempotency_key, max_attempts, tls_ca, priority, when or None
    )
    if not wait:
        typer.echo(to_json(job))
        return
    console = Console(stderr=True)
    console.print(Text(f"job {printable(job['id'])} submitted"))
    final = follow(api_url, job["id"], console, timeout_s, tls_ca)
    Console().print(job_table(final))
    if final["state"] != "succeeded":
        raise typer.Exit(1)


def _limit_fields(key: str | None, concurrency: int | None, rate: str | None) -> dict[str, Any]:
    """The limit fields given, checked here first (a nonsense rate is one line, no request)."""
    given = {"concurrency_key": key, "concurrency": concurrency, "rate": rate}
    fields = {name: value for name, value in given.items() if value is not None}
    JobLimit.from_body(fields)
    return fields


def _payload(text: str) -> Any:
    try:
        return codec.loads(text)
    except ValueError as exc:
        raise InvalidJob(f"the payload is not valid JSON: {exc}") from None


def post_job(
    api_url: str,
    job_type: str,
    payload: Any,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
    tls_ca: str | None = None,
    priority: int | None = None,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``POST /jobs`` (with the fields of ``more`` too: ``delay_s``, ``run_at``); the job as
    the API answered it."""
    body: dict[str, Any] = {"type": job_type, "payload": payload, **(more or {})}
    if max_attempts is not None:
        body["max_attempts"] = max_attempts
    if priority is not None:
        body["priority"] = priority
    headers = {"Content-Type": "application/json"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    body_bytes = codec.dumps(body)
    return request(api_url, "POST", "/jobs", body=body_bytes, headers=headers, tls_ca=tls_ca)


def follow(
    api_url: str,
    job_id: str,
    console: Console,
    timeout_s: float | None = None,
    tls_ca: str | None = None,
) -> dict[str, Any]:
    """Long-poll the job, showing a progress bar, until it is final; its last state."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("queued", total=None)
        while True:
            job = fetch_job(api_url, job_id, POLL_WAIT_S, tls_ca)
            bar.update(task, description=_description(job), **_completion(job))
            if job["state"] in FINAL_STATES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise JobqueueError(f"job {job_id} still {job['state']} after {timeout_s:g}s")


def _description(job: dict[str, Any]) -> str:
    message = job.get("progress_message")
    attempt = f" (attempt {job['attempts']})" if job["attempts"] > 1 else ""
    # The progress bar takes markup: a worker's "[red]" is escaped to show as is.
    return escape(printable(f"{job['state']}{attempt}" + (f": {message}" if message else "")))


def _completion(job: dict[str, Any]) -> dict[str, Any]:
    if job["state"] in FINAL_STATES:
        return {"total": 1.0, "completed": 1.0}
    if job.get("progress") is not None:
        return {"total": 1.0, "completed": float(job["progress"])}
    return {"total": None}
