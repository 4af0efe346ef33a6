"""The API's load options: caps on requests in flight and connections, read deadlines, rate."""

from __future__ import annotations

from typing import Annotated

import typer

from jobqueue import config
from jobqueue.api.load import LoadSettings, parse_rate

MaxInFlight = Annotated[
    int,
    typer.Option(
        envvar=config.env("max_in_flight"),
        min=0,
        help="Most requests served at once; past it a request is answered 503 overloaded with "
        "Retry-After (0: no cap; /healthz is never refused).",
    ),
]
MaxConnections = Annotated[
    int,
    typer.Option(
        envvar=config.env("max_connections"),
        min=0,
        help="Most open connections; past it a new one is answered 503 overloaded and closed "
        "(0: no cap).",
    ),
]
HeaderTimeout = Annotated[
    float,
    typer.Option(
        envvar=config.env("header_timeout_s"),
        help="A request's headers must arrive within this long, else 408 and the connection "
        "closed.",
    ),
]
BodyTimeout = Annotated[
    float,
    typer.Option(
        envvar=config.env("body_timeout_s"),
        help="A request's body must arrive within this long of its headers, else 408.",
    ),
]
SubmitRate = Annotated[
    str,
    typer.Option(
        envvar=config.env("submit_rate"),
        metavar="RATE",
        help="Submissions (POST /jobs, /jobs/batch: one per request) per client, API token or "
        "else address: N/s, or N/s,burst=B; past it 429 with Retry-After (off: no limit).",
    ),
]


def load_settings(
    max_in_flight: int,
    max_connections: int,
    header_timeout_s: float,
    body_timeout_s: float,
    submit_rate: str,
) -> LoadSettings:
    """The load settings the options give."""
    return LoadSettings(
        max_in_flight=max_in_flight,
        max_connections=max_connections,
        header_timeout_s=header_timeout_s,
        body_timeout_s=body_timeout_s,
        submit_rate=parse_rate(submit_rate),
    )
