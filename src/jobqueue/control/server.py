"""The API's gRPC WorkerService: registrations, heartbeats, the fleet list, commands to workers.

Wire-compatible with the original: ``Register`` answers ``status "ok"`` and ``Heartbeat``
answers ``status "alive"``. Unlike the original, a heartbeat from an id the registry does not
know registers it again (so workers reappear after an API restart), and nonsense (an empty,
over-long or unprintable id, an over-long host, version, queue or job type, too many job types,
an unknown state, a negative load) is refused with ``INVALID_ARGUMENT`` naming the field. A new
worker past the registry's limit is refused with ``RESOURCE_EXHAUSTED``. ``ListWorkers``
answers the first workers by id, at most ``MAX_PAGE_WORKERS`` and ``MAX_PAGE_BYTES`` of them,
with ``truncated`` set when more exist.

A worker that registers with ``sessions`` gets a secret for that registration
(``jobqueue.control.sessions``): a Heartbeat or Deregister for its id without it is refused with
``PERMISSION_DENIED`` and changes nothing, a Register for its id while it is live with
``ALREADY_EXISTS``. With a ``gate`` (``jobqueue.auth.grpc``), every call needs a token granting
``worker``, or comes token-less from a listed network.

Cancellations reach workers in the replies: a ``CancelSource`` (the API's, over the job store)
names, for each heartbeat, the jobs among those the worker holds that were asked to stop, and
the jobs cancelled while queued since the cursor the worker sent back.

Run it beside the HTTP API::

    async with ControlServer(registry, "127.0.0.1:50051") as server:
        ...  # server.port is the bound port (useful with port 0)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar

import grpc
import grpc.aio

from jobqueue.config import GRPC_ADDR, REGISTRY_SWEEP_S
from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.messages import (
    check_cursor,
    command_to_message,
    fleet_message,
    report_from_message,
    worker_message,
)
from jobqueue.control.sessions import InMemorySessionStore, Sessions
from jobqueue.errors import (
    ConfigError,
    InvalidLimit,
    InvalidWorker,
    JobqueueError,
    NotFound,
    PermissionDenied,
    RegistryFull,
    RegistryUnavailable,
    SessionTaken,
    StoreUnavailable,
    public_message,
)
from jobqueue.limits.service import LimitService
from jobqueue.registry import Registry, WorkerReport, check_worker_id
from jobqueue.registry.fleet import Fleet
from jobqueue.registry.page import MAX_PAGE_WORKERS, fitting

__all__ = [
    "GRPC_STATUS",
    "CancelSource",
    "ControlServer",
    "WorkerService",
    "serving",
    "start_control_server",
    "status_for",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
Context = grpc.aio.ServicerContext[Any, Any]

MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# The one table: the most specific class a raised error is an instance of decides the status.
GRPC_STATUS: dict[type[JobqueueError], grpc.StatusCode] = {
    InvalidWorker: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidLimit: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    RegistryFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    SessionTaken: grpc.StatusCode.ALREADY_EXISTS,
    RegistryUnavailable: grpc.StatusCode.UNAVAILABLE,
    StoreUnavailable: grpc.StatusCode.UNAVAILABLE,  # the limits' slots in the job store
    ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
    JobqueueError: grpc.StatusCode.INTERNAL,
}


def status_for(exc: JobqueueError) -> grpc.StatusCode:
    """The gRPC status code for ``exc``, from :data:`GRPC_STATUS`."""
    for cls in type(exc).__mro__:
        if cls in GRPC_STATUS:
            return GRPC_STATUS[cls]
    return grpc.StatusCode.INTERNAL


async def _answer(context: Context, work: Awaitable[_T]) -> _T:
    """Await the RPC's work; errors become a gRPC status with a one-line message."""
    try:
        return await work
    except JobqueueError as exc:
        code = status_for(exc)
        message = public_message(exc)
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
            logger.error("gRPC call failed: %s: %s", type(exc).__name__, exc)
            message = message if message != str(exc) else "internal server error"
        await context.abort(code, message)
    except Exception:
        logger.exception("unexpected error in a gRPC call")
        await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
    raise AssertionError("unreachable: abort raises")


class CancelSource(Protocol):
    """Which jobs a worker should stop or skip, for the cancellation part of a reply."""

    async def cancels_for(self, job_ids: Sequence[str], cursor: str) -> tuple[list[str], str]:
        """The ids among ``job_ids`` asked to stop, plus those cancelled while queued since
        ``cursor`` (all that are remembered for an empty or unknown one); and the new cursor.
        Never raises: a store that cannot be reached leaves the first part out."""


class WorkerService(pb_grpc.WorkerServiceServicer):
    """The ``worker.WorkerService`` implementation over a :class:`Registry`.

    ``broker`` is the API's own broker (:func:`jobqueue.brokers.broker_identity`): a worker
    that reports another embedded broker file (or an embedded broker beside the API's
    RabbitMQ, or the reverse) is refused with ``FAILED_PRECONDITION``: it would consume jobs
    nobody submits while being counted as serving its types. ``sessions`` holds the
    registrations' secrets (in memory, for the registry's TTL, when not given).
    """

    def __init__(
        self,
        registry: Registry,
        cancels: CancelSource | None = None,
        broker: str = "",
        sessions: Sessions | None = None,
        limits: LimitService | None = None,
    ) -> None:
        self._registry = registry
        self._limits = limits
        self._cancels = cancels
        self._broker = broker
        self._sessions = sessions or Sessions(InMemorySessionStore(ttl_s=registry.ttl_s))
        self._fleet = Fleet(registry)

    async def Register(self, request: pb.RegisterRequest, context: Context) -> pb.RegisterResponse:
        """Record the worker; answers ``ok`` as the original."""
        return await _answer(context, self._register(request))

    async def Heartbeat(
        self, request: pb.HeartbeatRequest, context: Context
    ) -> pb.HeartbeatResponse:
        """Record the worker (registering it if unknown); answers ``alive`` and any command."""
        return await _answer(context, self._heartbeat(request))

    async def ListWorkers(self, request: pb.Empty, context: Context) -> pb.WorkerList:
        """The first live workers by id, as many as fit one reply (``truncated`` if not all)."""
        return await _answer(context, self._list())

    async def Deregister(
        self, request: pb.DeregisterRequest, context: Context
    ) -> pb.DeregisterResponse:
        """Forget the worker; answers ``ok`` also when it was already gone."""
        return await _answer(context, self._deregister(request))

    async def GetWorker(self, request: pb.GetWorkerRequest, context: Context) -> pb.Worker:
        """One live worker, or ``NOT_FOUND``."""
        return await _answer(context, self._get(request))

    async def AcquireSlot(
        self, request: pb.AcquireSlotRequest, context: Context
    ) -> pb.AcquireSlotResponse:
        """A slot (and a start) under a fleet-wide limit, or why not (jobqueue.limits)."""
        return await _answer(context, self._limit_service().acquire(request))

    async def ReleaseSlots(self, request: pb.SlotsRequest, context: Context) -> pb.SlotsResponse:
        """Give limit slots back."""
        return await _answer(context, self._limit_service().release(request))

    async def RenewSlots(self, request: pb.SlotsRequest, context: Context) -> pb.SlotsResponse:
        """Push the leases of limit slots still held."""
        return await _answer(context, self._limit_service().renew(request))

    def _limit_service(self) -> LimitService:
        if self._limits is None:
            from jobqueue.limits.memory import MemoryLimits  # an API built without them

            self._limits = LimitService(MemoryLimits())
        return self._limits

    async def _register(self, request: pb.RegisterRequest) -> pb.RegisterResponse:
        check_worker_id(request.worker_id)
        report = report_from_message(request.load, request.details)
        self._check_broker(request.worker_id, report)
        secret = await self._sessions.open(
            request.worker_id, request.session_secret, request.sessions
        )
        if await self._registry.register(request.worker_id, report):
            logger.info("worker %s registered", request.worker_id)
        reply = pb.RegisterResponse(status="ok", session_secret=secret)
        reply.fleet.CopyFrom(fleet_message(await self._fleet.served(report.queue)))
        if self._cancels is not None:
            ids, reply.cancels_cursor = await self._cancels.cancels_for((), "")
            reply.cancel_job_ids.extend(ids)
        return reply

    async def _heartbeat(self, request: pb.HeartbeatRequest) -> pb.HeartbeatResponse:
        check_worker_id(request.worker_id)
        check_cursor(request.cancels_cursor)
        report = report_from_message(request.load, request.details)
        self._check_broker(request.worker_id, report)
        await self._sessions.admit(request.worker_id, request.session_secret)
        result = await self._registry.heartbeat(request.worker_id, report)
        if not result.known:
            logger.info("worker %s registered again by its heartbeat", request.worker_id)
        reply = pb.HeartbeatResponse(status="alive", command=command_to_message(result.command))
        reply.fleet.CopyFrom(fleet_message(await self._fleet.served(report.queue)))
        if self._cancels is not None:
            ids, cursor = await self._cancels.cancels_for(
                request.details.job_ids, request.cancels_cursor
            )
            reply.cancel_job_ids.extend(ids)
            reply.cancels_cursor = cursor
        return reply

    def _check_broker(self, worker_id: str, report: WorkerReport) -> None:
        if not _other_broker(self._broker, report.broker):
            return
        logger.warning(
            "refused worker %r: it consumes %r, not this API's broker %r",
            *(worker_id, report.broker, self._broker),
        )
        raise ConfigError(
            f"this API's broker is {self._broker}, the worker's is {report.broker}: "
            f"start the worker with --broker-url {self._broker}"
        )

    async def _list(self) -> pb.WorkerList:
        workers = await self._registry.workers(limit=MAX_PAGE_WORKERS + 1)
        messages = [worker_message(info) for info in workers[:MAX_PAGE_WORKERS]]
        count = fitting([message.ByteSize() for message in messages])
        return pb.WorkerList(workers=messages[:count], truncated=count < len(workers))

    async def _deregister(self, request: pb.DeregisterRequest) -> pb.DeregisterResponse:
        check_worker_id(request.worker_id)
        await self._sessions.end(request.worker_id, request.session_secret)
        if await self._registry.deregister(request.worker_id, drained=request.drained):
            left = "drained and left" if request.drained else "deregistered"
            logger.info("worker %s %s", request.worker_id, left)
        return pb.DeregisterResponse(status="ok")

    async def _get(self, request: pb.GetWorkerRequest) -> pb.Worker:
        check_worker_id(request.worker_id)
        info = await self._registry.get(request.worker_id)
        if info is None:
            raise NotFound(f"no live worker with id {request.worker_id!r}")
        return worker_message(info)


def _other_broker(ours: str, theirs: str) -> bool:
    """Whether a worker's broker is surely not ours: an embedded broker on either side, and
    not the same file. (RabbitMQ URLs name one server in many ways: they are not compared.)"""
    if not ours or not theirs or ours == theirs:
        return False
    return ours.startswith("sqlite:") or theirs.startswith("sqlite:")


class ControlServer:
    """The gRPC server and the registry sweep, started and stopped together.

    ``addr`` is ``host:port``; port 0 picks a free port, readable as :attr:`port` after
    :meth:`start`. The sweep runs every ``sweep_s`` seconds to free expired workers' storage
    (reads already leave them out). ``gate`` checks every call's token; ``sessions`` holds
    the registrations' secrets (in memory when not given).
    """

    def __init__(
        self,
        registry: Registry,
        addr: str = GRPC_ADDR,
        sweep_s: float = REGISTRY_SWEEP_S,
        cancels: CancelSource | None = None,
        broker: str = "",
        credentials: grpc.ServerCredentials | None = None,
        *,
        gate: grpc.aio.ServerInterceptor | None = None,
        sessions: Sessions | None = None,
        observer: grpc.aio.ServerInterceptor | None = None,
        limits: LimitService | None = None,
    ) -> None:
        self.registry = registry
        self._limits = limits
        # The observer (the metrics) first, so it sees the calls the gate refuses too.
        self._interceptors = tuple(i for i in (observer, gate) if i is not None)
        self._sessions = sessions
        self._addr = addr
        self._credentials = credentials  # None: plaintext (see jobqueue.tls.credentials)
        self._sweep_s = sweep_s
        self._cancels = cancels
        self._broker = broker
        self._server: grpc.aio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> int:
        """Bind and start serving; the bound port. Raises ConfigError when it cannot bind."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
            ],
            interceptors=self._interceptors,
        )
        service = WorkerService(
            self.registry, self._cancels, self._broker, self._sessions, self._limits
        )
        pb_grpc.add_WorkerServiceServicer_to_server(service, server)
        try:
            port = (
                server.add_insecure_port(self._addr)
                if self._credentials is None
                else server.add_secure_port(self._addr, self._credentials)
            )
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen for gRPC on {self._addr}: {exc}") from exc
        if port == 0:
            raise ConfigError(f"cannot listen for gRPC on {self._addr}")
        await server.start()
        self._server, self.port = server, port
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="jobqueue-registry-sweep")
        tls = "" if self._credentials is None else " (TLS)"
        logger.info("gRPC WorkerService listening on %s%s", self._bound_addr(), tls)
        return port

    async def stop(self, grace_s: float = 1.0) -> None:
        """Stop the sweep and the server, letting calls in progress finish within ``grace_s``."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_s)
            try:
                removed = await self.registry.sweep()
            except JobqueueError as exc:
                logger.warning("registry sweep failed: %s", exc)
                continue
            if removed:
                logger.info("registry sweep removed %d silent worker(s)", removed)

    def _bound_addr(self) -> str:
        host = self._addr.rpartition(":")[0]
        return f"{host}:{self.port}"


@contextlib.asynccontextmanager
async def serving(
    registry: Registry,
    addr: str = GRPC_ADDR,
    sweep_s: float = REGISTRY_SWEEP_S,
    cancels: CancelSource | None = None,
    broker: str = "",
    credentials: grpc.ServerCredentials | None = None,
    *,
    gate: grpc.aio.ServerInterceptor | None = None,
    sessions: Sessions | None = None,
    observer: grpc.aio.ServerInterceptor | None = None,
    limits: LimitService | None = None,
) -> AsyncIterator[ControlServer]:
    """Serve the control plane over ``registry`` (over TLS with ``credentials``; each call
    checked by ``gate`` and seen by ``observer``; the registrations' secrets in ``sessions``);
    on exit stop the server, close the registry and the sessions."""
    try:
        async with ControlServer(
            registry,
            addr,
            sweep_s,
            cancels,
            broker,
            credentials,
            gate=gate,
            sessions=sessions,
            observer=observer,
            limits=limits,
        ) as server:
            yield server
    finally:
        await registry.close()
        if limits is not None:
            await limits.close()
        if sessions is not None:
            await sessions.close()


async def start_control_server(
    registry: Registry, addr: str = GRPC_ADDR, sweep_s: float = REGISTRY_SWEEP_S
) -> ControlServer:
    """Start the gRPC WorkerService and the registry sweep; ``await server.stop()`` ends both."""
    server = ControlServer(registry, addr, sweep_s)
    await server.start()
    return server
