"""The ``jobqueue api`` options for authentication, and the settings they make."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from jobqueue import config
from jobqueue.auth.settings import AuthSettings
from jobqueue.errors import ConfigError

TokensFile = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("tokens_file"),
        help="A file of NAME:SCOPES:SECRET lines: tokens accepted besides the store's.",
    ),
]
Insecure = Annotated[
    bool,
    typer.Option(
        envvar=config.env("insecure"),
        help="Serve beyond loopback with no API token (anyone who reaches it gets in).",
    ),
]
OpenProbes = Annotated[
    bool,
    typer.Option(
        envvar=config.env("open_probes"), help="Answer /readyz and /metrics without a token."
    ),
]
TokenlessWorkers = Annotated[
    str,
    typer.Option(
        envvar=config.env("tokenless_worker_networks"),
        help="Comma-separated CIDRs whose gRPC workers may go without a token (the "
        "original's workers send none).",
    ),
]


def auth_settings(
    tokens_file: str | None, insecure: bool, open_probes: bool, tokenless_workers: str
) -> AuthSettings:
    """The settings from the options, and ``JOBQUEUE_TOKENS`` (a variable only: a secret on
    the command line is visible to every user of the machine)."""
    return AuthSettings(
        tokens_file=tokens_file or None,
        tokens=os.environ.get(config.env("tokens")) or None,
        insecure=insecure,
        open_probes=open_probes,
        tokenless_worker_networks=tuple(
            cidr.strip() for cidr in tokenless_workers.split(",") if cidr.strip()
        ),
    )


TokenFile = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("token_file"),
        help="A file holding the API token sent to the gRPC service (else JOBQUEUE_TOKEN).",
    ),
]


def worker_token(token_file: str | None) -> str | None:
    """The token a worker sends: the first line of ``token_file``, else ``JOBQUEUE_TOKEN``
    (a variable only, as for the other commands); None without either."""
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read token file {token_file}: {exc.strerror}") from None
        token = text.strip().partition("\n")[0].strip()
        if not token:
            raise ConfigError(f"token file {token_file} holds no token")
        return token
    return os.environ.get(config.env("token"), "").strip() or None
