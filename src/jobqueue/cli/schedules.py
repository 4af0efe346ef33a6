"""The ``jobqueue schedules`` commands: list, add, pause, resume, run-now, remove, and the
next runs of one, through a running API (``/schedules``), as ``jobqueue workers`` does."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import typer

from jobqueue import codec
from jobqueue.cli.client import API_URL, ApiUrl, request
from jobqueue.cli.table import KEEP, Column, fit_table, print_table, terminal_width
from jobqueue.cli.terminal import printable, to_json
from jobqueue.cli.tls_options import TlsCa
from jobqueue.errors import InvalidSchedule
from jobqueue.schedule.declared import declared_schedule

Name = Annotated[str, typer.Argument(help="The schedule's name.")]

schedules_app = typer.Typer(help="Cron schedules: list, add, pause, resume, remove, next runs.")


def register(app: typer.Typer) -> None:
    """Add ``jobqueue schedules ...`` to the app."""
    app.add_typer(schedules_app, name="schedules")


def _path(name: str, action: str = "") -> str:
    return f"/schedules/{quote(name, safe='')}" + (f"/{action}" if action else "")


SCHEDULE_COLUMNS = (
    Column("NAME", KEEP),
    Column("CRON", KEEP),
    Column("TZ", 4),
    Column("JOB TYPE", 3),
    Column("STATE", 1),
    Column("NEXT RUN", 2),
    Column("LAST TICK", 5),
    Column("FROM", 6),
)


@schedules_app.command("list")
def list_schedules(
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Every schedule: expression, zone, job type, paused or not, next run, last tick."""
    schedules = request(api_url, "GET", "/schedules", tls_ca=tls_ca)["schedules"]
    if as_json:
        for schedule in schedules:
            typer.echo(to_json(schedule))
        return
    rows = [_row(schedule) for schedule in schedules]
    title = f"{len(rows)} schedule{'s' if len(rows) != 1 else ''}"
    print_table(fit_table(SCHEDULE_COLUMNS, rows, terminal_width(), title=title))


def _row(schedule: dict[str, Any]) -> list[str]:
    return [
        schedule["name"],
        schedule["cron"],
        schedule["tz"],
        schedule["job_type"],
        "paused" if schedule["paused"] else "active",
        schedule["next_run_at"] or "-",
        schedule["last_tick_at"] or "-",
        schedule["source"],
    ]


@schedules_app.command("add")
def add(
    name: Name,
    cron: Annotated[str, typer.Option(help="5 fields, a 6th of seconds, or @daily and such.")],
    job_type: Annotated[str, typer.Option(help="The type of the job each tick creates.")],
    payload: Annotated[str, typer.Option(help="The jobs' payload, as JSON.")] = "null",
    tz: Annotated[str, typer.Option(help="IANA time zone of the expression.")] = "UTC",
    missed: Annotated[str, typer.Option(help="Missed ticks: skip or run_once.")] = "skip",
    overlap: Annotated[
        str, typer.Option(help="While the last run is unfinished: allow or skip.")
    ] = "allow",
    max_attempts: Annotated[int | None, typer.Option(min=1, help="Attempts of each job.")] = None,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
) -> None:
    """Add a schedule: a job of JOB_TYPE at each tick of CRON in TZ."""
    try:
        body_payload = codec.loads(payload)
    except ValueError as exc:
        raise InvalidSchedule(f"--payload is not JSON: {exc}") from None
    declared_schedule(name, cron, job_type, body_payload, tz, max_attempts, missed, overlap)
    body = {
        "name": name,
        "cron": cron,
        "job_type": job_type,
        "payload": body_payload,
        "tz": tz,
        "missed": missed,
        "overlap": overlap,
        "max_attempts": max_attempts,
    }
    made = request(
        api_url,
        "POST",
        "/schedules",
        body=codec.dumps(body),
        tls_ca=tls_ca,
        headers={"Content-Type": "application/json"},
    )
    typer.echo(f"schedule {printable(name)} added: next run {made['next_run_at']}")


def _act(name: str, action: str, api_url: str, tls_ca: str | None) -> dict[str, Any]:
    return request(api_url, "POST", _path(name, action), tls_ca=tls_ca)


@schedules_app.command("pause")
def pause(name: Name, api_url: ApiUrl = API_URL, tls_ca: TlsCa = None) -> None:
    """Stop firing a schedule until resumed."""
    _act(name, "pause", api_url, tls_ca)
    typer.echo(f"schedule {printable(name)} paused")


@schedules_app.command("resume")
def resume(name: Name, api_url: ApiUrl = API_URL, tls_ca: TlsCa = None) -> None:
    """Fire a paused schedule again, from its next tick (no catching up)."""
    resumed = _act(name, "resume", api_url, tls_ca)
    typer.echo(f"schedule {printable(name)} resumed: next run {resumed['next_run_at']}")


@schedules_app.command("run-now")
def run_now(name: Name, api_url: ApiUrl = API_URL, tls_ca: TlsCa = None) -> None:
    """Create a run of the schedule now, beside its ticks."""
    tick = _act(name, "run-now", api_url, tls_ca)
    typer.echo(f"schedule {printable(name)}: job {printable(str(tick['job_id']))} created")


@schedules_app.command("remove")
def remove(name: Name, api_url: ApiUrl = API_URL, tls_ca: TlsCa = None) -> None:
    """Remove a schedule made over HTTP (the jobs it made stay)."""
    request(api_url, "DELETE", _path(name), tls_ca=tls_ca)
    typer.echo(f"schedule {printable(name)} removed")


@schedules_app.command("next")
def next_runs(
    name: Name,
    count: Annotated[int, typer.Option(min=1, max=100, help="How many runs.")] = 5,
    api_url: ApiUrl = API_URL,
    tls_ca: TlsCa = None,
) -> None:
    """The schedule's next runs, in UTC and in its own zone."""
    schedule = request(
        api_url, "GET", _path(name), params={"runs": count, "last": 0}, tls_ca=tls_ca
    )
    if not schedule["next_runs"]:
        typer.echo(f"schedule {printable(name)} is paused: no next runs")
        return
    zone = ZoneInfo(schedule["tz"])
    for moment in schedule["next_runs"]:
        local = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(zone)
        typer.echo(f"{moment}  ({local.isoformat(sep=' ')} {printable(schedule['tz'])})")
