"""The ``jobqueue worker`` command: a worker node that runs jobs until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from typing import Annotated

import typer

from jobqueue import config
from jobqueue.brokers import Broker, broker_identity, from_url
from jobqueue.cli.auth_options import TokenFile, worker_token
from jobqueue.cli.metrics_options import WorkerMetricsAddr
from jobqueue.cli.options import BrokerUrl, LogFormat, Priorities, Queue, QueueType, run_fast
from jobqueue.cli.tls_options import WorkerTlsCa, WorkerTlsCert, WorkerTlsKey
from jobqueue.errors import ConfigError
from jobqueue.handlers import load_handlers
from jobqueue.limits.gate import DEFAULT_LEASE_S, LimitGate
from jobqueue.logs import setup_logging
from jobqueue.metrics.worker import serving_worker_metrics
from jobqueue.names import worker_id_problem
from jobqueue.telemetry.setup import start_tracing
from jobqueue.tls import ClientTls, client_tls
from jobqueue.worker.backoff import RetryPolicy
from jobqueue.worker.control import control_link
from jobqueue.worker.status import StatusReporter
from jobqueue.worker.unserved import UNSERVED_TIMEOUT_S
from jobqueue.worker.worker import ControlLink, Worker

log = logging.getLogger("jobqueue.worker")

DEFAULT_APP = "jobqueue.demo:handlers"


def register(app: typer.Typer) -> None:
    """Add ``jobqueue worker`` to the app."""
    app.command("worker")(worker)


def worker(
    app_spec: Annotated[
        str,
        typer.Option("--app", envvar=config.env("app"), help="The handlers: pkg.module:attr."),
    ] = DEFAULT_APP,
    broker_url: BrokerUrl = config.BROKER_URL,
    queue: Queue = config.QUEUE,
    queue_type: QueueType = config.QUEUE_TYPE,
    priorities: Priorities = config.PRIORITIES,
    concurrency: Annotated[
        int, typer.Option(envvar=config.env("concurrency"), help="Jobs run at once (prefetch).")
    ] = config.CONCURRENCY,
    retry_base_s: Annotated[
        float,
        typer.Option(envvar=config.env("retry_base_s"), help="Backoff after the first failure."),
    ] = config.RETRY_BASE_S,
    retry_cap_s: Annotated[
        float, typer.Option(envvar=config.env("retry_cap_s"), help="Longest backoff.")
    ] = config.RETRY_CAP_S,
    grace_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("shutdown_grace_s"),
            help="On SIGTERM, how long jobs in flight may finish before they are handed back.",
        ),
    ] = config.SHUTDOWN_GRACE_S,
    api_grpc: Annotated[
        str,
        typer.Option(
            envvar=config.env("api_grpc"),
            help="The API's gRPC service to register with: host:port, or a gRPC target "
            "naming several replicas (dns:///host:port, ipv4:a:port,b:port) to turn to "
            "another when one goes away; '' for none.",
        ),
    ] = config.API_GRPC,
    tls_ca: WorkerTlsCa = None,
    tls_cert: WorkerTlsCert = None,
    tls_key: WorkerTlsKey = None,
    token_file: TokenFile = None,
    heartbeat_interval_s: Annotated[
        float, typer.Option(envvar=config.env("heartbeat_interval_s"), help="Between heartbeats.")
    ] = config.HEARTBEAT_INTERVAL_S,
    worker_id: Annotated[
        str | None, typer.Option(envvar=config.env("worker_id"), help="Default: a new UUID.")
    ] = None,
    log_level: Annotated[
        str, typer.Option(envvar=config.env("log_level"), help="DEBUG, INFO, WARNING or ERROR.")
    ] = config.LOG_LEVEL,
    burst: Annotated[
        bool, typer.Option("--burst", help="Stop once the queue is empty and nothing runs.")
    ] = False,
    sqlite_lease_s: Annotated[
        float | None,
        typer.Option(
            envvar=config.env("sqlite_lease_s"),
            help="SQLite broker: how long the jobs of a worker that died stay invisible.",
        ),
    ] = None,
    status: Annotated[
        bool,
        typer.Option(
            "--status/--no-status",
            envvar=config.env("status"),
            help="Report each job's state, progress and result (JOBQUEUE_STATUS=off to stop).",
        ),
    ] = True,
    prefetch: Annotated[
        int | None,
        typer.Option(
            envvar=config.env("prefetch"),
            min=1,
            help="Deliveries held at once (default: concurrency; with status events 4x, >= 128).",
        ),
    ] = None,
    log_jobs: Annotated[
        bool,
        typer.Option(
            "--log-jobs/--no-log-jobs",
            envvar=config.env("log_jobs"),
            help="Log each job at INFO ('processing job ...', 'job ... succeeded'), not DEBUG.",
        ),
    ] = False,
    max_result_bytes: Annotated[
        int,
        typer.Option(
            envvar=config.env("max_result_bytes"),
            min=0,
            help="Largest handler result stored (as JSON); a larger one fails the attempt.",
        ),
    ] = config.MAX_RESULT_BYTES,
    unserved_timeout_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("unserved_timeout_s"),
            min=0,
            help="A job of a type no live worker serves is dead-lettered after this long.",
        ),
    ] = UNSERVED_TIMEOUT_S,
    log_format: LogFormat = "text",
    metrics_addr: WorkerMetricsAddr = "",
    limit_lease_s: Annotated[
        float,
        typer.Option(
            envvar=config.env("limit_lease_s"),
            min=1,
            max=600,
            help="How long a fleet-wide limit slot outlives a worker that died.",
        ),
    ] = DEFAULT_LEASE_S,
) -> None:
    """Run a worker node: consume jobs, run their handlers, retry, dead-letter."""
    setup_logging(log_level, log_format)
    if heartbeat_interval_s <= 0:
        raise ConfigError(f"heartbeat interval must be positive, got {heartbeat_interval_s}s")
    if api_grpc:
        config.parse_addr(api_grpc, "--api-grpc")
    problem = None if worker_id is None else worker_id_problem(worker_id)
    if problem is not None:
        raise ConfigError(f"--worker-id: {problem}")
    tls = client_tls(tls_ca, tls_cert, tls_key) if api_grpc else None
    handlers = load_handlers(app_spec)
    broker = broker_identity(broker_url)
    node = Worker(
        _broker(broker_url, queue, sqlite_lease_s, queue_type, priorities),
        handlers,
        concurrency=concurrency,
        retry=RetryPolicy(retry_base_s, retry_cap_s),
        grace_s=grace_s,
        worker_id=worker_id,
        queue=queue,
        burst=burst,
        status=_status_reporter(broker_url, queue, queue_type) if status else None,
        max_result_bytes=max_result_bytes,
        job_log_level=logging.INFO if log_jobs else logging.DEBUG,
        prefetch=prefetch,
        unserved_timeout_s=unserved_timeout_s,
        broker_identity=broker,
        tracer_provider=start_tracing("jobqueue-worker"),
        limits=_limits(api_grpc, worker_id, tls, token_file, limit_lease_s),
    )
    token = worker_token(token_file) if api_grpc else None
    control = control_link(node, api_grpc, heartbeat_interval_s, tls, token) if api_grpc else None
    types = ",".join(handlers.types())
    log.info(
        "worker %s started: queue=%s concurrency=%d types=%s broker=%s status=%s",
        *(node.worker_id, queue, concurrency, types, broker),
        "on" if status else "off",
    )
    _log_tls(api_grpc, tls)
    run_fast(_serve(node, control, metrics_addr))
    if node.refusal is not None:
        raise ConfigError(f"the API refused this worker: {node.refusal}")
    _exit_past_abandoned_threads(node)


def _log_tls(api_grpc: str, tls: ClientTls | None) -> None:
    """Say how the control plane is reached: a TLS handshake that fails looks like an API
    that does not answer."""
    if tls is not None:
        verified = "its CA from --tls-ca" if tls.ca is not None else "the default roots"
        presented = ", presenting a client certificate" if tls.cert is not None else ""
        log.info("control plane %s over TLS, verified with %s%s", api_grpc, verified, presented)


def _broker(
    url: str, queue: str, sqlite_lease_s: float | None, queue_type: str, priorities: int = 0
) -> Broker:
    if sqlite_lease_s is None or not url.lower().startswith("sqlite:"):
        return from_url(url, queue=queue, queue_type=queue_type, priorities=priorities)
    from jobqueue.brokers.sqlite import SqliteBroker

    return SqliteBroker(url, queue=queue, lease_s=sqlite_lease_s)


def _limits(
    api_grpc: str,
    worker_id: str | None,
    tls: ClientTls | None,
    token_file: str | None,
    lease_s: float,
) -> LimitGate | None:
    """The fleet's limits, asked of the API (None without one: each worker keeps its own)."""
    if not api_grpc:
        return None
    from jobqueue.limits.grpc import GrpcLimits
    from jobqueue.tls.credentials import channel_credentials

    holder = worker_id or str(uuid.uuid4())
    credentials = None if tls is None else channel_credentials(tls)
    backend = GrpcLimits(api_grpc, holder, credentials, worker_token(token_file))
    return LimitGate(backend, holder, lease_s)


def _status_reporter(url: str, queue: str, queue_type: str) -> StatusReporter:
    """Status events go to the events queue beside the jobs queue, on the same broker."""
    from jobqueue.store.transport import EVENTS_MAX_REDELIVERIES, events_queue

    events = from_url(
        url, events_queue(queue), max_redeliveries=EVENTS_MAX_REDELIVERIES, queue_type=queue_type
    )
    return StatusReporter(events)


async def _serve(node: Worker, control: ControlLink | None, metrics_addr: str) -> None:
    """Run the worker, its SIGTERM and SIGINT handlers in place before its metrics are served:
    whoever sees it up may stop it, and it then drains instead of dying by the signal."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_stop)
    with serving_worker_metrics(node.stats, metrics_addr):
        await node.run(control)


def _exit_past_abandoned_threads(node: Worker) -> None:
    """Exit now if handler threads still run: Python would otherwise wait for them at exit."""
    if node.abandoned_threads:
        logging.shutdown()
        os._exit(0)
