"""The TLS options: the API's certificate, what workers and commands trust, a worker's own."""

from __future__ import annotations

from typing import Annotated

import typer

from jobqueue import config

TlsCert = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("tls_cert"),
        metavar="FILE",
        help="PEM certificate (chain) the API serves HTTPS and gRPC with; needs --tls-key.",
    ),
]
TlsKey = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("tls_key"), metavar="FILE", help="PEM private key of --tls-cert."
    ),
]
TlsClientCa = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("tls_client_ca"),
        metavar="FILE",
        help="gRPC requires each worker to present a certificate this PEM CA signed (mTLS).",
    ),
]
TlsCa = Annotated[
    str | None,
    typer.Option(
        envvar=config.env("tls_ca"),
        metavar="FILE",
        help="PEM CA to verify the API's certificate with (default: the system's).",
    ),
]
WorkerTlsCa = Annotated[
    str | None,
    typer.Option(
        "--tls-ca",
        envvar=config.env("tls_ca"),
        metavar="FILE",
        help="PEM CA to verify the API's gRPC certificate with: turns TLS on.",
    ),
]
WorkerTlsCert = Annotated[
    str | None,
    typer.Option(
        "--tls-cert",
        envvar=config.env("worker_tls_cert"),
        metavar="FILE",
        help="PEM client certificate this worker presents to the API (mTLS); needs --tls-key.",
    ),
]
WorkerTlsKey = Annotated[
    str | None,
    typer.Option(
        "--tls-key",
        envvar=config.env("worker_tls_key"),
        metavar="FILE",
        help="PEM private key of the worker's --tls-cert.",
    ),
]
