"""The API process: the broker, the HTTP server (uvicorn) and the control plane beside it.

Start order: bind the HTTP socket (a taken port fails at once), connect the broker (if it is
down, keep starting: ``/readyz`` answers 503 and submissions 503 while a background task keeps
connecting; with ``wait_for_broker_s``, wait that long for it instead, then fail), open the job
store and migrate its schema (if it is down, keep starting: status routes answer 503 and
submissions are accepted unrecorded while a background task keeps trying), enter the sidecars
(the control plane's gRPC server, the consumer of the workers' status events, the retention
purge), then serve HTTP. A broker or store that stays down is logged at its first failure,
again every ``outage_log_interval_s`` with how long it has been down, and once when it is back.

Shutdown order, on SIGTERM or SIGINT (a second SIGINT skips the wait):
1. uvicorn stops accepting connections and lets requests in flight finish, for at most
   ``shutdown_grace_s`` (a request in flight may be waiting on a broker confirm);
2. the sidecars stop, in the reverse order they started (events not yet applied go back to
   their queue);
3. the store closes;
4. the broker closes, last, because every request before it may still have published.

The store: ``JOBQUEUE_STORE_URL``, else beside the broker — ``name-state.db`` next to the
embedded broker's ``name.db``, and ``jobqueue-state.db`` (SQLite, in the working directory)
for RabbitMQ (see :func:`jobqueue.store.default_store_url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from jobqueue.api.app import create_app
from jobqueue.api.cancel_feed import cancel_feed
from jobqueue.api.cancels import StoreCancels
from jobqueue.api.connection import guarded_protocol
from jobqueue.api.events import Applied, consuming
from jobqueue.api.finished_feed import finished_feed
from jobqueue.api.outage import Outage
from jobqueue.api.retention import purging
from jobqueue.api.settings import ApiSettings
from jobqueue.api.shedding import in_flight_limit
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook, refresh_once, refreshing
from jobqueue.auth.grpc import WorkerTokenGate
from jobqueue.auth.http import HttpAuth
from jobqueue.auth.policy import check_exposure, exposed_addrs, static_token_lines
from jobqueue.brokers import Broker, broker_identity, from_url, redact_url
from jobqueue.config import env, parse_addr
from jobqueue.control.server import serving
from jobqueue.control.sessions import from_url as sessions_from_url
from jobqueue.delay.promoter import promoting
from jobqueue.errors import BrokerUnavailable, ConfigError, StoreUnavailable
from jobqueue.limits.service import LimitService, backend_for
from jobqueue.metrics import Metrics
from jobqueue.metrics.fleet import FleetReader
from jobqueue.registry import Registry
from jobqueue.registry import from_url as registry_from_url
from jobqueue.schedule.firing import schedule_sidecars
from jobqueue.stats import sampling_depth
from jobqueue.store import JobEvent, Store, default_store_url
from jobqueue.store import from_url as store_from_url
from jobqueue.store.transport import EVENTS_MAX_REDELIVERIES, events_queue
from jobqueue.tls import ServerTls, server_tls
from jobqueue.tls.credentials import server_credentials

logger = logging.getLogger("jobqueue.api")

RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 10.0


@dataclass
class ControlPlane:
    """The worker registry served at ``/workers`` and the servers that run beside HTTP."""

    registry: Registry | None = None
    sidecars: list[AbstractAsyncContextManager[object]] = field(default_factory=list)


def build_control_plane(
    settings: ApiSettings,
    broker: Broker,
    tracking: Tracking | None = None,
    tls: ServerTls | None = None,
    book: TokenBook | None = None,
    metrics: Metrics | None = None,
) -> ControlPlane:
    """CONTROL PLANE: the worker registry and the gRPC server, started and stopped with HTTP;
    with ``tracking``, also the status events consumer, the retention purge and the depth
    sampler, and with a Redis registry the feeds that tell the other API replicas of this one's
    cancellations and finished jobs (``api/cancel_feed.py``, ``api/finished_feed.py``); with
    ``book``,
    every gRPC call needs a ``worker`` token (or comes token-less from a listed network); with
    ``metrics``, the gRPC calls and the events applied are observed.

    Each sidecar is an async context manager: entered before HTTP serves, exited after HTTP
    drained and before the store and the broker close.
    """
    registry = registry_from_url(
        settings.registry_url or "", ttl_s=settings.worker_ttl_s, max_workers=settings.max_workers
    )
    logger.info("worker registry: %s", redact_url(settings.registry_url or "in memory"))
    cancels = None if tracking is None else StoreCancels(tracking.store, tracking.cancels)
    sidecars: list[AbstractAsyncContextManager[object]] = [] if cancels is None else [cancels]
    feed = (
        None
        if tracking is None
        else cancel_feed(settings.registry_url or "", tracking.cancels, tracking.watch)
    )
    if tracking is not None and feed is not None:
        tracking.feed = feed
        sidecars.append(feed)
    broker_id = broker_identity(settings.broker_url)
    credentials = None if tls is None else server_credentials(tls)
    sidecars.append(
        serving(
            registry,
            settings.grpc_addr,
            settings.registry_sweep_s,
            cancels,
            broker_id,
            credentials,
            gate=None if book is None else worker_gate(book, settings),
            sessions=sessions_from_url(settings.registry_url or "", ttl_s=settings.worker_ttl_s),
            observer=None if metrics is None else metrics.grpc,
            limits=fleet_limits(settings, tracking),
        )
    )
    if tracking is not None:
        events_broker = from_url(
            settings.broker_url,
            events_queue(settings.queue),
            max_redeliveries=EVENTS_MAX_REDELIVERIES,
            queue_type=settings.queue_type,
        )
        finished = finished_feed(settings.registry_url or "", tracking.watch)
        if finished is not None:
            sidecars.append(finished)  # entered before the consumer, left after it
        hooks: list[Applied] = [] if metrics is None else [metrics.events.applied]
        hooks += [] if finished is None else [finished.applied]
        on_applied = each(hooks)
        sidecars.append(consuming(events_broker, tracking.store, tracking.watch, on_applied))
        sidecars.append(purging(tracking.store, settings.retention_s, settings.purge_interval_s))
        lateness = None if metrics is None else metrics.schedule.promoted
        sidecars.append(promoting(tracking.store, broker.publish, lateness))
        fleet = FleetReader(settings.queue, broker, registry)
        sidecars.append(sampling_depth(fleet, tracking.store))
    return ControlPlane(registry=registry, sidecars=sidecars)


def each(hooks: list[Applied]) -> Applied | None:
    """One hook calling every one of ``hooks`` in turn (None for none)."""
    if len(hooks) <= 1:
        return hooks[0] if hooks else None

    def call_each(events: Sequence[JobEvent]) -> None:
        for hook in hooks:
            hook(events)

    return call_each


def fleet_limits(settings: ApiSettings, tracking: Tracking | None) -> LimitService:
    """The fleet's concurrency and rate limits: in Redis beside the registry, else in the
    job store, else in this process."""
    store = None if tracking is None else tracking.store
    return LimitService(backend_for(settings.registry_url or "", store))


def store_url(settings: ApiSettings) -> str:
    """The job store's URL: the one configured, else the store beside the broker."""
    return settings.store_url or default_store_url(settings.broker_url)


async def serve_api(settings: ApiSettings, *, handle_signals: bool = True) -> None:
    """Run the API until SIGTERM/SIGINT (or until the server is told to exit), then stop cleanly."""
    host, port = parse_addr(settings.http_addr, env("http_addr"))
    tls = server_tls(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
    broker = from_url(
        settings.broker_url,
        settings.queue,
        queue_type=settings.queue_type,
        priorities=settings.priorities,
    )
    store = store_from_url(store_url(settings), settings.queue, settings.metrics.enabled)
    tracking = Tracking(store)
    book = token_book(settings)
    metrics = api_metrics(settings, broker, store)
    control = build_control_plane(settings, broker, tracking, tls, book, metrics)
    if metrics is not None:
        metrics.watch_workers(control.registry)
    auth = HttpAuth(book, AuditTrail(tracking.store), settings.auth.open_probes)
    app = create_app(
        broker, control.registry, settings=settings, tracking=tracking, auth=auth, metrics=metrics
    )
    observer = None if metrics is None else metrics.cron
    control.sidecars.extend(schedule_sidecars(app.state.schedules, settings.app, observer))
    server = http_server(app, settings, tls)
    sock = bind_socket(host, port)
    async with AsyncExitStack() as stack:
        stack.callback(sock.close)
        await stack.enter_async_context(
            connected(
                broker,
                Outage("broker", settings.broker_url, settings.outage_log_interval_s),
                wait_s=settings.wait_for_broker_s,
            )
        )
        await stack.enter_async_context(
            store_opened(
                tracking.store,
                Outage("job store", store_url(settings), settings.outage_log_interval_s),
            )
        )
        stack.push_async_callback(app.state.replays.close)  # before the store and broker
        await open_door(book, tracking.store, settings)
        await stack.enter_async_context(refreshing(book, tracking.store))
        for sidecar in control.sidecars:
            await stack.enter_async_context(sidecar)
        if handle_signals:
            stack.enter_context(_signals_stop(server))
        bound_host, bound_port = sock.getsockname()[:2]
        print(f"Job API listening on {_format_addr(bound_host, bound_port)}...", flush=True)
        await server.serve(sockets=[sock])
    logger.info("API stopped")


def api_metrics(settings: ApiSettings, broker: Broker, store: Store) -> Metrics | None:
    """The API's metrics, unless switched off."""
    if not settings.metrics.enabled:
        logger.info("metrics: off")
        return None
    return Metrics(settings.queue, broker, store, settings=settings.metrics)


def token_book(settings: ApiSettings) -> TokenBook:
    """The tokens the API accepts: those of its tokens file and variable now, the store's once
    read. Tokens are required even with none when it listens beyond loopback (unless
    ``insecure``)."""
    exposed = exposed_addrs(settings.http_addr, settings.grpc_addr)
    return TokenBook.from_lines(
        static_token_lines(settings.auth.tokens_file, settings.auth.tokens),
        open_without_tokens=not exposed or settings.auth.insecure,
    )


def worker_gate(book: TokenBook, settings: ApiSettings) -> WorkerTokenGate:
    """The gRPC gate over ``book``, admitting token-less workers from the listed networks."""
    networks = settings.auth.networks()
    if networks:
        listed = ", ".join(str(network) for network in networks)
        logger.info("gRPC: workers without a token are admitted from %s", listed)
    return WorkerTokenGate(book, networks)


async def open_door(book: TokenBook, store: Store, settings: ApiSettings) -> None:
    """Read the store's tokens, refuse an exposed API with none (unless insecure), and say
    whether authentication is on."""
    await refresh_once(book, store)
    check_exposure(
        book, exposed_addrs(settings.http_addr, settings.grpc_addr), settings.auth.insecure
    )
    if not book.loaded:
        logger.warning("authentication: on, but no token can be checked until the store answers")
    elif book.required:
        logger.info("authentication: on (a token is needed for all but /healthz and the docs)")
    else:
        logger.info("authentication: off (listening on loopback only, no API token exists)")


def http_server(
    app: FastAPI, settings: ApiSettings, tls: ServerTls | None = None
) -> uvicorn.Server:
    """The uvicorn server for ``app`` (HTTPS with ``tls``): serve it with
    ``server.serve(sockets=[bind_socket(...)])`` and stop it by setting ``server.should_exit``.
    It installs no signal handlers."""
    config = uvicorn.Config(
        in_flight_limit(app, settings.load.max_in_flight),  # outermost: shortcuts included
        lifespan="off",
        log_config=None,
        access_log=False,
        # Nothing reads the client's address, so X-Forwarded-* need not be parsed per request.
        proxy_headers=False,
        http=guarded_protocol(settings.load),  # httptools, with a connection cap and deadlines
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        ssl_certfile=None if tls is None else tls.cert_path,
        ssl_keyfile=None if tls is None else tls.key_path,
    )
    broadcaster = getattr(app.state, "ui_broadcaster", None)
    return _Server(config, None if broadcaster is None else broadcaster.close)


class _Server(uvicorn.Server):
    """uvicorn's server with signals left to :func:`serve_api`.

    uvicorn's own handling re-raises the signal once it has stopped, which would kill the
    process before the broker is closed; here the signal only asks the server to exit.
    ``on_shutdown`` runs as the server starts stopping (the dashboard ends its event streams,
    which would otherwise hold the graceful stop to its deadline).
    """

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None] | None = None):
        super().__init__(config)
        self.on_shutdown = on_shutdown

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signal handling to the caller."""
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Run ``on_shutdown``, then stop as uvicorn does."""
        if self.on_shutdown is not None:
            self.on_shutdown()
        await super().shutdown(sockets)


@contextlib.contextmanager
def _signals_stop(server: uvicorn.Server) -> Iterator[None]:
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        if server.should_exit:
            logger.warning("%s again: not waiting for requests in flight", sig.name)
            server.force_exit = True
        else:
            logger.info("%s: stopping (draining requests in flight)", sig.name)
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def connected(
    broker: Broker, outage: Outage, *, wait_s: float | None = None
) -> AsyncIterator[Broker]:
    """The broker connected, or connecting in the background if it is down; closed on exit.

    With ``wait_s``, the broker must connect within that many seconds, else
    ``BrokerUnavailable`` saying why.
    """
    task: asyncio.Task[None] | None = None
    try:
        if wait_s is not None:
            await _connect_within(broker, outage, wait_s)
        elif not await _connect_once(broker, outage):
            task = asyncio.create_task(_keep_connecting(broker, outage), name="broker-connect")
        yield broker
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await broker.close()


async def _connect_once(broker: Broker, outage: Outage) -> bool:
    try:
        await broker.connect()
    except BrokerUnavailable as exc:
        outage.failed(exc)
        return False
    return True


async def _connect_within(broker: Broker, outage: Outage, wait_s: float) -> None:
    last_error: BrokerUnavailable | None = None
    delay_s = RECONNECT_FIRST_DELAY_S
    try:
        async with asyncio.timeout(wait_s) as deadline:
            while True:
                try:
                    await broker.connect()
                except BrokerUnavailable as exc:
                    last_error = exc
                    outage.failed(exc, f"waiting up to {wait_s:g} s for it")
                else:
                    if outage.ongoing:
                        outage.ended()
                    return
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, RECONNECT_MAX_DELAY_S)
    except TimeoutError:
        if not deadline.expired():
            raise
        reason = "no answer" if last_error is None else outage.reason(last_error)
        raise BrokerUnavailable(
            f"{outage.name} not reachable within {wait_s:g} s: {reason}"
        ) from None


async def _keep_connecting(broker: Broker, outage: Outage) -> None:
    delay_s = RECONNECT_FIRST_DELAY_S
    while True:
        await asyncio.sleep(delay_s)
        try:
            await broker.connect()
        except Exception as exc:  # whatever the failure, the next attempt may succeed
            outage.failed(exc)
            delay_s = min(delay_s * 2, RECONNECT_MAX_DELAY_S)
        else:
            outage.ended()
            return


@contextlib.asynccontextmanager
async def store_opened(store: Store, outage: Outage) -> AsyncIterator[Store]:
    """The store connected and migrated, or trying in the background if it is down; closed on
    exit."""
    logger.info("job store: %s", outage.url)
    task: asyncio.Task[None] | None = None
    try:
        await _open_store(store)
    except StoreUnavailable as exc:
        outage.failed(exc)
        task = asyncio.create_task(_keep_opening(store, outage), name="store-connect")
    try:
        yield store
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()


async def _open_store(store: Store) -> None:
    await store.connect()
    await store.upgrade()


async def _keep_opening(store: Store, outage: Outage) -> None:
    delay_s = RECONNECT_FIRST_DELAY_S
    while True:
        await asyncio.sleep(delay_s)
        try:
            await _open_store(store)
        except StoreUnavailable as exc:
            outage.failed(exc)
            delay_s = min(delay_s * 2, RECONNECT_MAX_DELAY_S)
        else:
            outage.ended()
            return


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family = infos[0][0]
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {_format_addr(host, port)}: {exc.strerror}") from None
    return sock


def _format_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
