"""The ``jobqueue up`` command: the whole system on one machine, in one command."""

from __future__ import annotations

import errno
import logging
import os
import socket
import time

import httpx
import typer

from jobqueue import config
from jobqueue.brokers import redact_url
from jobqueue.cli.client import token_header
from jobqueue.cli.options import LogFormat, Priorities
from jobqueue.errors import ConfigError
from jobqueue.handlers import load_handlers
from jobqueue.logs import setup_logging
from jobqueue.scaling.bounds import Bounds, parse_workers
from jobqueue.scaling.loop import ApiInputs, ApiWorkerLoads, Autoscaler
from jobqueue.scaling.settings import ScalingSettings
from jobqueue.supervisor import Child, Supervisor, jobqueue_argv
from jobqueue.worker.worker import SETTLING_PREFETCH_FACTOR

READY_TIMEOUT_S = 30.0
UP_STATUSES = frozenset({200, 401, 403})
"""``/readyz`` answers that mean the API is up: ready, or its token gate answered (a token
without ``read``, or none: the broker's state is then not shown, but the API serves)."""
DEMO_APP = "jobqueue.demo:handlers"

log = logging.getLogger("jobqueue.up")


def register(app: typer.Typer) -> None:
    """Add ``jobqueue up`` to the app."""
    app.command("up")(up)


def up(
    workers: str = typer.Option(
        "2",
        "--workers",
        "-w",
        envvar=config.env("workers"),
        metavar="N|MIN:MAX",
        help="Worker processes: a count (3), or MIN:MAX (2:8) to scale them by the backlog.",
    ),
    concurrency: int = typer.Option(
        config.CONCURRENCY, envvar=config.env("concurrency"), min=1, help="Jobs per worker."
    ),
    app_spec: str = typer.Option(
        DEMO_APP, "--app", envvar=config.env("app"), help="Handlers as pkg.module:attribute."
    ),
    broker_url: str = typer.Option(config.BROKER_URL, envvar=config.env("broker_url")),
    queue: str = typer.Option(config.QUEUE, envvar=config.env("queue")),
    priorities: Priorities = config.PRIORITIES,
    http_addr: str = typer.Option(config.HTTP_ADDR, envvar=config.env("http_addr")),
    grpc_addr: str = typer.Option(config.GRPC_ADDR, envvar=config.env("grpc_addr")),
    log_level: str = typer.Option(config.LOG_LEVEL, envvar=config.env("log_level")),
    log_format: LogFormat = "text",
    log_jobs: bool = typer.Option(
        True, "--log-jobs/--no-log-jobs", help="Workers log each job at INFO."
    ),
) -> None:
    """Start the API (HTTP + gRPC) and N worker processes; Ctrl-C stops them all cleanly."""
    setup_logging(log_level, log_format)
    spec = parse_workers(workers)
    scaling = ScalingSettings.from_env() if isinstance(spec, Bounds) else None
    _check_can_start(http_addr, grpc_addr, app_spec)
    env = _child_env(broker_url, queue, http_addr, grpc_addr, concurrency, app_spec, log_level)
    env[config.env("log_jobs")] = "true" if log_jobs else "false"
    env[config.env("log_format")] = log_format
    env[config.env("priorities")] = str(priorities)
    env[config.env("workers")] = str(spec)  # the API's /scaling answers within the same bounds
    if isinstance(spec, Bounds):
        env.setdefault(config.env("prefetch"), str(concurrency * SETTLING_PREFETCH_FACTOR))
    base = f"http://{http_addr}"
    first = spec.min if isinstance(spec, Bounds) else spec
    supervisor = Supervisor(
        api=Child("api", jobqueue_argv("api")),
        workers=[Child(f"worker-{n}", jobqueue_argv("worker")) for n in range(1, first + 1)],
        env=env,
    )
    if isinstance(spec, Bounds) and scaling is not None:
        supervisor.scaler = _autoscaler(spec, scaling, base, queue, concurrency)
        supervisor.worker_loads = ApiWorkerLoads(base, token_header())

    def announce() -> None:
        if not _wait_ready(base, supervisor):
            raise ConfigError(f"the API did not become ready on {base} within {READY_TIMEOUT_S}s")
        if not supervisor.stopping:
            print(_banner(base, grpc_addr, broker_url, spec, concurrency), flush=True)

    raise typer.Exit(supervisor.run(on_started=announce))


def _check_can_start(http_addr: str, grpc_addr: str, app_spec: str) -> None:
    """Refuse, before any process starts, what would only make the API or the workers die and
    be restarted over and over: an address taken or bad, handlers that cannot be loaded."""
    addrs = {"--http-addr": http_addr, "--grpc-addr": grpc_addr}
    parsed = {flag: config.parse_addr(addr, flag) for flag, addr in addrs.items()}
    if parsed["--http-addr"] == parsed["--grpc-addr"]:
        raise ConfigError(
            f"--http-addr and --grpc-addr are both {http_addr}; give them different ports"
        )
    for flag, (host, port) in parsed.items():
        _check_port_free(flag, addrs[flag], host, port)
    load_handlers(app_spec)


def _check_port_free(flag: str, addr: str, host: str, port: int) -> None:
    """Bind ``host:port`` as the API will (``SO_REUSEADDR``, the first address family) and let
    go; a ConfigError naming the port and the way out when it cannot."""
    if port == 0:
        return
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.create_server((host, port), family=family[0][0]):
            pass
    except OSError as exc:
        raise ConfigError(_bind_error(flag, addr, port, exc)) from None


def _bind_error(flag: str, addr: str, port: int, exc: OSError) -> str:
    if exc.errno != errno.EADDRINUSE:
        return f"cannot listen on {addr} ({flag}): {exc.strerror or exc}"
    host = addr.rpartition(":")[0] or "127.0.0.1"
    return (
        f"port {port} ({flag} {addr}) is already in use, probably by another jobqueue up; "
        f"stop it or pass {flag} {host}:PORT"
    )


def _child_env(
    broker_url: str,
    queue: str,
    http_addr: str,
    grpc_addr: str,
    concurrency: int,
    app_spec: str,
    log_level: str,
) -> dict[str, str]:
    settings = {
        "broker_url": broker_url,
        "queue": queue,
        "http_addr": http_addr,
        "grpc_addr": grpc_addr,
        "api_grpc": grpc_addr,
        "concurrency": str(concurrency),
        "app": app_spec,
        "log_level": log_level,
    }
    return {**os.environ, **{config.env(name): value for name, value in settings.items()}}


def _wait_ready(base: str, supervisor: Supervisor) -> bool:
    """Wait for ``/readyz`` (with ``JOBQUEUE_TOKEN`` when set; see :data:`UP_STATUSES`),
    tending the children meanwhile: an API that dies at start is restarted, or given up on, as
    it would be later."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    headers = token_header()
    while time.monotonic() < deadline and not supervisor.stopping:
        supervisor.tend()
        try:
            answer = httpx.get(f"{base}/readyz", timeout=1.0, headers=headers)
            if answer.status_code in UP_STATUSES:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return supervisor.stopping


def _autoscaler(
    bounds: Bounds, settings: ScalingSettings, base: str, queue: str, concurrency: int
) -> Autoscaler:
    """The scaling loop between ``bounds``, reading the API's ``/scaling``.

    Its workers prefetch ``concurrency`` x 4 jobs, not the usual floor of 128 (unless
    ``JOBQUEUE_PREFETCH`` says otherwise): a backlog held in one worker's prefetch is neither
    seen as ready nor runnable by the workers added for it."""
    log.info(
        "autoscaling between %d and %d workers: deciding every %gs, scaling down after %gs "
        "below the fleet",
        *(bounds.min, bounds.max, settings.interval_s, settings.cooldown_s),
    )
    return Autoscaler(
        bounds,
        ApiInputs(base, queue, token_header()),
        concurrency,
        rule=settings.rule,
        policy=settings.policy(),
        interval_s=settings.interval_s,
    )


def _banner(
    base: str, grpc_addr: str, broker_url: str, workers: int | Bounds, concurrency: int
) -> str:
    count = f"{workers.min}-{workers.max} (autoscaled)" if isinstance(workers, Bounds) else workers
    curl = (
        f"curl -X POST {base}/jobs -H 'Content-Type: application/json' "
        """-d '{"type":"email","payload":{"to":"user@example.com","subject":"Hello"}}'"""
    )
    return "\n".join(
        [
            "jobqueue is up",
            f"  HTTP API  {base}  (OpenAPI docs: {base}/docs)",
            f"  dashboard {base}/ui",
            f"  gRPC      {grpc_addr}",
            f"  broker    {redact_url(broker_url)}",
            f"  workers   {count} processes x {concurrency} concurrent jobs",
            f"Submit a job:  {curl}",
            "Stop with Ctrl-C.",
        ]
    )
