"""``create_app``: the FastAPI application over a broker, built fresh for each server or test."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Receive, Scope, Send

import jobqueue
from jobqueue.api.audit import audit_router
from jobqueue.api.bulk import bulk_router
from jobqueue.api.dlq import dlq_router
from jobqueue.api.docs import install_docs, redirect_to_docs
from jobqueue.api.errors import install_error_handlers
from jobqueue.api.health import health_router
from jobqueue.api.jobs import jobs_router
from jobqueue.api.limits import BodyLimitMiddleware
from jobqueue.api.served import ServedCheck
from jobqueue.api.settings import ApiSettings
from jobqueue.api.shortcuts import Shortcuts
from jobqueue.api.status import status_router
from jobqueue.api.tracking import Tracking
from jobqueue.auth.http import HttpAuth
from jobqueue.auth.openapi import declare_security
from jobqueue.brokers import Broker
from jobqueue.metrics import METRICS_PATH, Metrics
from jobqueue.metrics.fleet import FleetReader
from jobqueue.metrics.route import metrics_endpoint
from jobqueue.registry import Registry
from jobqueue.registry.fleet import Fleet
from jobqueue.scaling.inputs import ScalingReader
from jobqueue.scaling.route import scaling_router
from jobqueue.scaling.view import Scaling
from jobqueue.schedule.book import ScheduleBook, schedule_book
from jobqueue.schedule.routes import schedules_router
from jobqueue.stats import OverviewReader
from jobqueue.stats.route import stats_router
from jobqueue.triage.replay import Replays
from jobqueue.ui.install import install_ui

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own OpenTelemetry hooks off: jobqueue makes its own spans (:mod:`jobqueue.telemetry`),
only when tracing is on, and FastAPI's check for a provider on every request costs the submit
path a few per cent."""

DESCRIPTION = (
    "Submit jobs to a durable queue (202 means the broker has the job), follow them (state, "
    "progress, result, history; cancel), inspect and replay the dead-letter queue, and probe "
    'health. Every error answers `{"error": {"code": ..., "message": ...}}`.'
)


class JobqueueApi(FastAPI):
    """FastAPI, with the requests of its :class:`Shortcuts` taken before its middleware stack."""

    def __init__(
        self,
        shortcuts: Shortcuts,
        auth: HttpAuth | None = None,
        metrics: Metrics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shortcuts = shortcuts
        entry: ASGIApp = self._dispatch if auth is None else auth.wrap(self._dispatch)
        self._entry = entry if metrics is None else metrics.http.wrap(entry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request behind the token gate, when there is one."""
        await self._entry(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a shortcut's request directly, anything else through FastAPI."""
        if self.shortcuts.takes(scope):
            await self.shortcuts(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    broker: Broker,
    registry: Registry | None = None,
    *,
    settings: ApiSettings | None = None,
    tracking: Tracking | None = None,
    auth: HttpAuth | None = None,
    metrics: Metrics | None = None,
    schedules: ScheduleBook | None = None,
) -> FastAPI:
    """The HTTP API over ``broker`` (already connected, or reconnecting on its own).

    With a worker ``registry``, the ``/workers`` routes are served too, and a submission of a
    job type no live worker serves is warned about (or refused: ``unserved_types``); with
    ``tracking`` (the job store), submissions are recorded, idempotency keys honoured and the
    status routes served; with ``auth``, every route but the open ones needs a token of the
    right scope (:mod:`jobqueue.auth.scopes`) and admin actions are audited; with ``metrics``,
    every request is counted and timed and ``/metrics`` serves them. Nothing is
    global: each call builds an independent app, which is how tests get their own.
    """
    settings = settings or ApiSettings()
    store = tracking.store if tracking is not None else None
    shortcuts = Shortcuts(settings.max_body_bytes, settings.load.submit_rate)
    app = JobqueueApi(
        shortcuts,
        auth,
        metrics,
        title="jobqueue",
        version=jobqueue.__version__,
        description=DESCRIPTION,
        telemetry=NO_TELEMETRY,
        docs_url=None,  # install_docs serves the pages with their assets, not from a CDN
        redoc_url=None,
    )
    app.state.broker = broker
    app.state.settings = settings
    app.state.tracking = tracking
    app.state.schedules = schedules  # the cron schedules' book (the dashboard reads it too)
    install_error_handlers(app)
    install_docs(app)
    app.add_route("/", redirect_to_docs, methods=["GET"], include_in_schema=False)
    if metrics is not None:
        app.add_route(METRICS_PATH, metrics_endpoint(metrics), ["GET"], include_in_schema=False)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.include_router(health_router(broker))
    served = None
    if registry is not None:
        served = ServedCheck(Fleet(registry), settings.queue, settings.unserved_types)
    app.include_router(jobs_router(broker, settings, shortcuts, store, served))
    fleet = FleetReader(settings.queue, broker, registry) if metrics is None else metrics.fleet
    if tracking is not None:
        app.include_router(bulk_router(broker, tracking))  # before /jobs/{job_id} takes "bulk"
        schedules = schedules or schedule_book(tracking.store, settings.queue)
        app.state.schedules = schedules
        app.include_router(status_router(tracking, schedules))
        app.include_router(audit_router(tracking.store))
        if schedules is not None:
            app.include_router(schedules_router(schedules))
        app.state.overview = OverviewReader(tracking.store, fleet)  # the dashboard reads it too
        app.include_router(stats_router(app.state.overview))
    reader = ScalingReader(fleet, store, settings.scaling.concurrency)
    scaling = Scaling(settings.queue, reader, settings.scaling)
    app.include_router(scaling_router(scaling))
    if metrics is not None:
        metrics.watch_scaling(scaling)
    app.state.replays = Replays(broker, store)  # background replays; serve_api closes them
    app.include_router(dlq_router(broker, store, app.state.replays))
    if registry is not None:
        router = _workers_router(registry)
        if router is not None:
            app.include_router(router)
    install_ui(app, auth)
    if auth is not None:
        declare_security(app, auth.book, auth.open_probes)
    if metrics is not None:
        metrics.http.label_paths(shortcuts.paths())
    return app


def _workers_router(registry: object) -> APIRouter | None:
    module = _optional_module("jobqueue.api.workers")
    if module is None:
        return None
    router: APIRouter = module.workers_router(registry)
    return router


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
