"""Options and helpers that several commands share: the broker's URL and queue, the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from jobqueue import config

BrokerUrl = Annotated[
    str, typer.Option(envvar=config.env("broker_url"), help="sqlite:///path or amqp://...")
]
Queue = Annotated[str, typer.Option(envvar=config.env("queue"), help="The jobs queue.")]
LogFormat = Annotated[
    str,
    typer.Option(
        envvar=config.env("log_format"),
        help="Log lines as text, or json: one JSON object per line.",
    ),
]
QueueType = Annotated[
    str,
    typer.Option(
        envvar=config.env("queue_type"),
        help="RabbitMQ queues: classic (as the original) or quorum (replicated, for a cluster).",
    ),
]

Priorities = Annotated[
    int,
    typer.Option(
        envvar=config.env("priorities"),
        min=0,
        max=255,
        help="RabbitMQ: declare the jobs queue with x-max-priority N (10 for priorities 0-9); "
        "0: off, as the original. The embedded broker always orders by priority.",
    ),
]


def run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop's event loop when it is installed, else on asyncio's own."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def missing_sqlite_file(path: Path) -> Path | None:
    """The absolute path of ``path`` if no file is there (a relative path is the cwd's)."""
    absolute = path if path.is_absolute() else Path.cwd() / path
    return None if absolute.is_file() else absolute
