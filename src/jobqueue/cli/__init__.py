"""The ``jobqueue`` command line: one typer app, each subcommand in a module of its own."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

import jobqueue
from jobqueue.cli import (
    api,
    audit,
    db,
    dlq,
    jobs,
    schedules,
    status,
    submit,
    token,
    top,
    up,
    worker,
    workers,
)
from jobqueue.cli.help import use_fitting_help
from jobqueue.cli.terminal import printable
from jobqueue.errors import JobqueueError

app = typer.Typer(
    name="jobqueue",
    help="A distributed job queue: submit over HTTP, run on workers, retry, dead-letter.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"jobqueue {jobqueue.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Options before any command: ``jobqueue --version``."""


for command_module in (api, worker, submit, status, jobs, dlq, workers, top, up, db, token, audit):
    command_module.register(app)
schedules.register(app)
use_fitting_help(app)


def main() -> None:
    """Entry point of the console script: errors become one line and exit code 1."""
    try:
        app()
    except JobqueueError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)  # may quote what a client sent
        sys.exit(1)
