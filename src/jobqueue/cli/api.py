"""The ``jobqueue api`` command: the HTTP API (and the gRPC control plane) in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from jobqueue import config
from jobqueue.api.settings import OUTAGE_LOG_INTERVAL_S, ApiSettings
from jobqueue.cli.auth_options import (
    Insecure,
    OpenProbes,
    TokenlessWorkers,
    TokensFile,
    auth_settings,
)
from jobqueue.cli.load_options import (
    BodyTimeout,
    HeaderTimeout,
    MaxConnections,
    MaxInFlight,
    SubmitRate,
    load_settings,
)
from jobqueue.cli.metrics_options import DEFAULT_MAX_TYPES, MetricsMaxTypes, MetricsSwitch
from jobqueue.cli.options import BrokerUrl, LogFormat, Priorities, Queue, QueueType, run_fast
from jobqueue.cli.tls_options import TlsCert, TlsClientCa, TlsKey
from jobqueue.logs import setup_logging
from jobqueue.metrics.settings import MetricsSettings
from jobqueue.scaling.settings import ScalingSettings
from jobqueue.telemetry.setup import start_tracing


def register(app: typer.Typer) -> None:
    """Add ``jobqueue api`` to the app."""
    app.command("api")(api)


def api(
    ctx: typer.Context,
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
    queue_type: QueueType = config.QUEUE_TYPE,
    priorities: Priorities = config.PRIORITIES,
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
    max_workers: Annotated[
        int,
        typer.Option(
            envvar=config.env("max_workers"),
            min=1,
            help="Most workers registered at once; past it a new worker id is refused.",
        ),
    ] = config.MAX_WORKERS,
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
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    tls_client_ca: TlsClientCa = None,
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
    wait_for_broker: Annotated[
        float | None,
        typer.Option(
            "--wait-for-broker",
            envvar=config.env("wait_for_broker_s"),
            metavar="S",
            help="Wait up to S seconds for the broker at start, else exit 1 (default: start at "
            "once and keep connecting in the background).",
        ),
    ] = None,
    outage_log_interval_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("outage_log_interval_s"),
            help="How often a broker or store that stays down is logged again.",
        ),
    ] = OUTAGE_LOG_INTERVAL_S,
    unserved_types: Annotated[
        str,
        typer.Option(
            envvar=config.env("unserved_types"),
            help="A submitted job type no live worker serves: 'warn' (202 with a Warning) or "
            "'reject' (422).",
        ),
    ] = "warn",
    max_in_flight: MaxInFlight = config.MAX_IN_FLIGHT,
    max_connections: MaxConnections = config.MAX_CONNECTIONS,
    header_timeout_s: HeaderTimeout = config.HEADER_TIMEOUT_S,
    body_timeout_s: BodyTimeout = config.BODY_TIMEOUT_S,
    submit_rate: SubmitRate = "off",
    tokens_file: TokensFile = None,
    insecure: Insecure = False,
    open_probes: OpenProbes = False,
    tokenless_worker_networks: TokenlessWorkers = "",
    metrics: MetricsSwitch = True,
    metrics_max_types: MetricsMaxTypes = DEFAULT_MAX_TYPES,
    log_level: Annotated[
        str, typer.Option(envvar=config.env("log_level"), help="DEBUG, INFO, WARNING or ERROR.")
    ] = config.LOG_LEVEL,
    log_format: LogFormat = "text",
    app_spec: Annotated[
        str | None,
        typer.Option(
            "--app",
            envvar=config.env("app"),
            help="Handlers as pkg.module:attribute: their declared cron schedules are upserted "
            "into the store at start.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (and the workers' gRPC service) until SIGTERM or Ctrl-C."""
    from jobqueue.api.serve import serve_api

    setup_logging(log_level, log_format)
    for name, addr in (("http_addr", http_addr), ("grpc_addr", grpc_addr)):
        config.parse_addr(addr, _setting_name(ctx, name))
    settings = ApiSettings(
        broker_url=broker_url,
        queue=queue,
        queue_type=queue_type,
        priorities=priorities,
        http_addr=http_addr,
        grpc_addr=grpc_addr,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        log_level=log_level.upper(),
        registry_url=registry_url or None,
        worker_ttl_s=worker_ttl_s,
        max_workers=max_workers,
        registry_sweep_s=registry_sweep_s,
        shutdown_grace_s=shutdown_grace_s,
        store_url=store_url or None,
        tls_cert=tls_cert or None,
        tls_key=tls_key or None,
        tls_client_ca=tls_client_ca or None,
        retention_s=retention_s,
        purge_interval_s=purge_interval_s,
        wait_for_broker_s=wait_for_broker,
        outage_log_interval_s=outage_log_interval_s,
        tracer_provider=start_tracing("jobqueue-api"),
        unserved_types=unserved_types,
        load=load_settings(
            max_in_flight, max_connections, header_timeout_s, body_timeout_s, submit_rate
        ),
        auth=auth_settings(tokens_file, insecure, open_probes, tokenless_worker_networks),
        metrics=MetricsSettings(metrics, metrics_max_types),
        app=app_spec or None,
        scaling=ScalingSettings.from_env(),
    )
    run_fast(serve_api(settings))


def _setting_name(ctx: typer.Context, name: str) -> str:
    """How the user gave a setting: ``--http-addr`` on the command line, else its variable."""
    source = ctx.get_parameter_source(name)  # by name: typer may bring its own copy of click
    if source is not None and source.name == "COMMANDLINE":
        return "--" + name.replace("_", "-")
    return config.env(name)
