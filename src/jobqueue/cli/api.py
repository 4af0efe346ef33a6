"""The ``jobqueue api`` command: the HTTP API (and the gRPC control plane) in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from jobqueue import config
from jobqueue.api.settings import ApiSettings
from jobqueue.cli.options import BrokerUrl, Queue, run_fast
from jobqueue.logs import setup_logging


def register(app: typer.Typer) -> None:
    """Add ``jobqueue api`` to the app."""
    app.command("api")(api)


def api(
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
    http_addr: Annotated[
        str, typer.Option(envvar=config.env("http_addr"), help="host:port the HTTP API binds.")
    ] = config.HTTP_ADDR,
    grpc_addr: Annotated[
        str, typer.Option(envvar=config.env("grpc_addr"), help="host:port the gRPC server binds.")
    ] = config.GRPC_ADDR,
    max_body_bytes: Annotated[
        int,
        typer.Option(envvar=config.env("max_body_bytes"), min=1, help="Largest request body."),
    ] = config.MAX_BODY_BYTES,
    max_batch: Annotated[
        int,
        typer.Option(envvar=config.env("max_batch"), min=1, help="Most jobs in one batch."),
    ] = config.MAX_BATCH,
    registry_url: Annotated[
        str | None,
        typer.Option(envvar=config.env("registry_url"), help="redis://... (default: in memory)"),
    ] = None,
    worker_ttl_s: Annotated[
        float,
        typer.Option(envvar=config.env("worker_ttl_s"), help="Forget a worker unseen this long."),
    ] = config.WORKER_TTL_S,
    registry_sweep_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("registry_sweep_s"), help="How often silent workers are removed."
        ),
    ] = config.REGISTRY_SWEEP_S,
    shutdown_grace_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("shutdown_grace_s"), help="How long requests in flight may finish."
        ),
    ] = config.SHUTDOWN_GRACE_S,
    store_url: Annotated[
        str | None,
        typer.Option(
            envvar=config.env("store_url"),
            help="Job state store: sqlite:///path.db or postgresql://user@host/db (default: "
            "NAME-state.db beside the embedded broker's NAME.db, or jobqueue-state.db beside "
            "a RabbitMQ broker).",
        ),
    ] = None,
    retention_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("retention_s"), help="Keep finished jobs this long (default 7 days)."
        ),
    ] = config.RETENTION_S,
    purge_interval_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("purge_interval_s"), help="How often finished jobs are purged."
        ),
    ] = config.PURGE_INTERVAL_S,
    log_level: Annotated[
        str, typer.Option(envvar=config.env("log_level"), help="DEBUG, INFO, WARNING or ERROR.")
    ] = config.LOG_LEVEL,
) -> None:
    """Serve the HTTP API (and the workers' gRPC service) until SIGTERM or Ctrl-C."""
    from jobqueue.api.serve import serve_api

    setup_logging(log_level)
    settings = ApiSettings(
        broker_url=broker_url,
        queue=queue,
        http_addr=http_addr,
        grpc_addr=grpc_addr,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        log_level=log_level.upper(),
        registry_url=registry_url or None,
        worker_ttl_s=worker_ttl_s,
        registry_sweep_s=registry_sweep_s,
        shutdown_grace_s=shutdown_grace_s,
        store_url=store_url or None,
        retention_s=retention_s,
        purge_interval_s=purge_interval_s,
    )
    run_fast(serve_api(settings))
