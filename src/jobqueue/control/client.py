"""The worker's side of the control plane: register, heartbeat, take commands, deregister.

The client never stands in the worker's way. ``start`` returns at once; a background task
registers (retrying with exponential backoff while the API is down) and then heartbeats every
``interval_s``. The worker processes jobs whether or not the API can be reached. When the API
restarts, the next heartbeat registers the worker again (the server treats a heartbeat from an
unknown id as a registration), so it is listed again within one heartbeat. Every RPC has a
deadline.

Replies may name jobs to cancel; they go to ``on_cancel``. The client keeps the cursor the
server sends with them, so each reply carries only the cancellations it has not sent yet.

Every call carries the worker's API token (``authorization: Bearer TOKEN`` metadata, on a
plaintext channel too) when it has one. The client registers with ``sessions`` and keeps the
secret the API answers, in memory only, to send with every heartbeat and the deregistration:
no other client can then heartbeat (taking its commands) or deregister in its name. When the API
lost the session, the next heartbeat registers the worker again with that secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence

import grpc
import grpc.aio

from jobqueue.config import HEARTBEAT_INTERVAL_S
from jobqueue.control import worker_pb2 as pb
from jobqueue.control import worker_pb2_grpc as pb_grpc
from jobqueue.control.messages import command_from_message, details_from_stats, fleet_from_message
from jobqueue.registry.fleet import ServedTypes
from jobqueue.worker.stats import WorkerStats

__all__ = ["ControlClient"]

logger = logging.getLogger(__name__)

RPC_TIMEOUT_S = 2.0
_REFUSALS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,  # no token, or one the API does not know
        grpc.StatusCode.PERMISSION_DENIED,  # a token without 'worker', or a wrong session secret
        grpc.StatusCode.ALREADY_EXISTS,  # the id is live with another registration's session
    }
)
FIRST_RETRY_S = 0.1


class ControlClient:
    """Registers a worker with the API, heartbeats its stats, and hands commands to it.

    ``stats`` is called before every registration and heartbeat; ``on_command`` is called with
    ``"pause"``, ``"resume"`` or ``"drain"`` when a heartbeat reply carries a command (an
    exception it raises is logged, never propagated). ``on_cancel`` is called with the ids of
    jobs to stop or skip when a reply names some, ``on_fleet`` with what the live workers of
    the queue serve (each reply says), and ``on_refused`` with the API's reason when it refuses
    the worker (``FAILED_PRECONDITION``: it consumes another broker than the API's); the client
    then stops trying.
    """

    def __init__(
        self,
        target: str,
        stats: Callable[[], WorkerStats],
        on_command: Callable[[str], None],
        interval_s: float = HEARTBEAT_INTERVAL_S,
        rpc_timeout_s: float = RPC_TIMEOUT_S,
        on_cancel: Callable[[list[str]], None] | None = None,
        on_fleet: Callable[[ServedTypes], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
    ) -> None:
        self._target = target
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self._session_secret = ""  # from the last Register reply; never logged
        self._credentials = credentials  # None: plaintext (see jobqueue.tls.credentials)
        self._stats = stats
        self._on_command = on_command
        self._on_cancel = on_cancel
        self._on_fleet = on_fleet
        self._on_refused = on_refused
        self._cancels_cursor = ""
        self._interval_s = interval_s
        self._rpc_timeout_s = rpc_timeout_s
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.WorkerServiceAsyncStub | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._reachable = True  # only the transitions are logged
        self._last_refusal = ""
        self.registered = False
        self.refusal: str | None = None  # why the API refused the worker, if it did

    async def start(self) -> None:
        """Start registering and heartbeating in the background; returns at once."""
        if self._task is not None:
            return
        # gRPC's own reconnect backoff grows to two minutes; cap it so that a restarted API
        # is found again within one heartbeat.
        max_backoff_ms = max(100, min(1000, int(self._interval_s * 1000)))
        options = [
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", max_backoff_ms),
        ]
        self._channel = (
            grpc.aio.insecure_channel(self._target, options=options)
            if self._credentials is None
            else grpc.aio.secure_channel(self._target, self._credentials, options=options)
        )
        self._stub = pb_grpc.WorkerServiceStub(self._channel)
        self._task = asyncio.create_task(self._run(), name="jobqueue-control-client")

    def beat_soon(self) -> None:
        """Send the next heartbeat now instead of at the next interval (after a state change)."""
        self._wake.set()

    async def stop(self, drained: bool = False) -> None:
        """Stop heartbeating and deregister, best effort, within one RPC deadline; ``drained``
        when the worker leaves after a drain (the API then lists it as drained)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.registered:
            await self._deregister(drained)
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None
        self.registered = False

    async def _run(self) -> None:
        await self._register_until_done()
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self._interval_s
        while self.refusal is None:
            await self._sleep_until(next_at)
            next_at = max(next_at + self._interval_s, loop.time())
            try:
                await self._heartbeat()
            except Exception:  # a bug in stats() or on_command must not end the heartbeats
                logger.exception("heartbeat failed")

    async def _sleep_until(self, deadline: float) -> None:
        delay_s = deadline - asyncio.get_running_loop().time()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the wait ends (after beat_soon), and stop() would then wait forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, delay_s)):
                await self._wake.wait()
        self._wake.clear()

    async def _register_until_done(self) -> None:
        delay_s = FIRST_RETRY_S
        while not await self._try_register() and self.refusal is None:
            await asyncio.sleep(delay_s * random.uniform(0.5, 1.0))
            delay_s = min(delay_s * 2, self._interval_s)

    def _refused(self, exc: grpc.aio.AioRpcError) -> bool:
        """Whether the API refused the worker for good; tells ``on_refused`` and stops."""
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            return False
        reason = exc.details() or "refused"
        logger.error("the API at %s refused this worker: %s", self._target, reason)
        self.refusal = reason
        if self._on_refused is not None:
            self._on_refused(reason)
        return True

    async def _try_register(self) -> bool:
        try:
            return await self._register()
        except Exception:  # a bug in stats() must not end the task: keep trying
            logger.exception("registration failed")
            return False

    async def _register(self) -> bool:
        assert self._stub is not None
        stats = self._stats()
        request = pb.RegisterRequest(
            worker_id=stats.worker_id,
            load=stats.in_flight,
            details=details_from_stats(stats),
            sessions=True,
            session_secret=self._session_secret,
        )
        try:
            reply = await self._stub.Register(
                request, timeout=self._rpc_timeout_s, wait_for_ready=True, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            if not self._refused(exc):
                self._unreachable("register", exc)
            return False
        self._reached(f"registered as {stats.worker_id} with {self._target}")
        self.registered = True
        self._session_secret = reply.session_secret
        self._cancel(reply.cancel_job_ids, reply.cancels_cursor)
        self._fleet(reply)
        return True

    async def _heartbeat(self) -> None:
        assert self._stub is not None
        stats = self._stats()
        request = pb.HeartbeatRequest(
            worker_id=stats.worker_id,
            load=stats.in_flight,
            details=details_from_stats(stats),
            cancels_cursor=self._cancels_cursor,
            session_secret=self._session_secret,
        )
        try:
            reply = await self._stub.Heartbeat(
                request, timeout=self._rpc_timeout_s, wait_for_ready=True, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            if not self._refused(exc):
                self._unreachable("heartbeat", exc)
            return
        self._reached(f"heartbeats reach {self._target} again")
        self._cancel(reply.cancel_job_ids, reply.cancels_cursor)
        self._fleet(reply)
        command = command_from_message(reply.command)
        if command is not None:
            self._deliver(str(command))

    def _cancel(self, job_ids: Sequence[str], cursor: str) -> None:
        self._cancels_cursor = cursor
        if not job_ids or self._on_cancel is None:
            return
        try:
            self._on_cancel(list(job_ids))
        except Exception:
            logger.exception("applying cancellations failed")

    def _fleet(self, reply: pb.RegisterResponse | pb.HeartbeatResponse) -> None:
        if self._on_fleet is not None and reply.HasField("fleet"):
            self._on_fleet(fleet_from_message(reply.fleet))

    def _deliver(self, command: str) -> None:
        logger.info("control plane command: %s", command)
        try:
            self._on_command(command)
        except Exception:
            logger.exception("applying command %r failed", command)
        self.beat_soon()  # report the new state without waiting a whole interval

    async def _deregister(self, drained: bool) -> None:
        assert self._stub is not None
        request = pb.DeregisterRequest(
            worker_id=self._stats().worker_id,
            drained=drained,
            session_secret=self._session_secret,
        )
        try:
            await self._stub.Deregister(
                request, timeout=self._rpc_timeout_s, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            logger.warning("could not deregister: %s", _describe(exc))

    def _unreachable(self, what: str, exc: grpc.aio.AioRpcError) -> None:
        if exc.code() in _REFUSALS:
            problem = _describe(exc)
            if problem != self._last_refusal:  # retried every interval: said once
                logger.error("control plane refused %s: %s", what, problem)
            self._last_refusal = problem
        elif self._reachable:
            logger.warning(
                "control plane at %s unreachable (%s): jobs keep running, retrying",
                self._target,
                _describe(exc),
            )
        self._reachable = False

    def _reached(self, message: str) -> None:
        self._last_refusal = ""
        if not self._reachable or not self.registered:
            logger.info("%s", message)
        self._reachable = True


def _describe(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"
