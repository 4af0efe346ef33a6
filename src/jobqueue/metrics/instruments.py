"""The API process's own instruments: HTTP requests, gRPC calls, status events applied."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

import grpc
import grpc.aio
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobqueue.metrics.requests import RequestTally
from jobqueue.store import JobEvent

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
UNMATCHED = "unmatched"


class HttpInstruments:
    """Requests by route (the route's template, so ids make no new series), method and status,
    and their latency (:class:`~jobqueue.metrics.requests.RequestTally`)."""

    def __init__(self, registry: CollectorRegistry, fixed_paths: frozenset[str]) -> None:
        self._fixed_paths = fixed_paths  # paths served without a route: they are their own label
        self.tally = RequestTally(LATENCY_BUCKETS)
        registry.register(self.tally)

    def label_paths(self, paths: frozenset[str]) -> None:
        """Label requests to ``paths``, served past the router, by their path."""
        self._fixed_paths |= paths

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app``, with each HTTP request it answers counted and timed."""
        observe, route_of, clock = self.tally.observe, self._route, time.perf_counter

        async def instrumented(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = clock()
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                observe((route_of(scope), scope["method"], status), clock() - started)

        return instrumented

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if isinstance(template, str):
            return template
        path = scope.get("path", "")
        return path if path in self._fixed_paths else UNMATCHED


class GrpcInstruments(grpc.aio.ServerInterceptor):
    """Counts the control plane's calls by method and status code, and times them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "jobqueue_grpc_calls",
            "gRPC calls of the WorkerService handled, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "jobqueue_grpc_call_duration_seconds",
            "Seconds a WorkerService call took, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """The method's handler, counted (the WorkerService's calls are all unary)."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = str(handler_call_details.method).rpartition("/")[2] or UNMATCHED
        return grpc.unary_unary_rpc_method_handler(
            self._observed(handler.unary_unary, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _observed(
        self, call: Callable[[Any, Any], Awaitable[Any]], method: str
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
        async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            failed = False
            try:
                return await call(request, context)
            except BaseException:
                failed = True
                raise
            finally:
                code = context.code()
                if code is None:  # not set by the handler: OK, or UNKNOWN when it raised
                    name = "UNKNOWN" if failed else "OK"
                else:
                    name = code.name if isinstance(code, grpc.StatusCode) else str(code)
                self.calls.labels(method, name).inc()
                self.latency.labels(method).observe(time.perf_counter() - started)

        return observed


class EventInstruments:
    """How late the workers' status events reach the store."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Histogram(
            "jobqueue_status_event_apply_lag_seconds",
            "Seconds from a status event's time (on its worker) to its application to the "
            "job store by this API process.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def applied(self, events: Sequence[JobEvent]) -> None:
        """Observe the lag of ``events``, applied now."""
        now = datetime.now(UTC)
        observe = self.lag.observe
        for event in events:
            observe(max(0.0, (now - event.at).total_seconds()))


class CronInstruments:
    """Cron schedules' ticks fired by this replica, by outcome, and their lateness: from the
    tick's time to its job's creation in the store (the firing loop's ``FiringObserver``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ticks = Counter(
            "jobqueue_schedule_ticks",
            "Cron schedule ticks fired here, by outcome (fired, caught_up, skipped).",
            ["outcome"],
            registry=registry,
        )
        self.lateness = Histogram(
            "jobqueue_schedule_lateness_seconds",
            "Seconds from a cron tick's time to its job's creation in the store.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def fired(self, schedule: str, outcome: str, lateness_s: float) -> None:
        """Count a tick (schedule names are not labels: there may be many)."""
        self.ticks.labels(outcome).inc()
        self.lateness.observe(lateness_s)
