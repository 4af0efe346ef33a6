"""Probes: ``/healthz`` (the process is alive) and ``/readyz`` (the broker takes publishes)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from starlette.responses import Response

from jobqueue.api.schemas import StatusOut, error_responses, json_response
from jobqueue.brokers import Broker

logger = logging.getLogger(__name__)

READY_CHECK_TIMEOUT_S = 2.0


def health_router(broker: Broker) -> APIRouter:
    """The liveness and readiness probes."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=StatusOut, summary="Liveness")
    async def healthz() -> Response:
        """200 while the process can answer."""
        return json_response({"status": "ok"})

    @router.get(
        "/readyz",
        response_model=StatusOut,
        summary="Readiness",
        responses=error_responses(503),
    )
    async def readyz() -> Response:
        """200 when the broker can accept a publish now, else 503."""
        if await _broker_ready(broker):
            return json_response({"status": "ready"})
        error = {"code": "broker_unavailable", "message": "the broker is not reachable"}
        return json_response({"status": "not_ready", "error": error}, 503)

    return router


async def _broker_ready(broker: Broker) -> bool:
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
            return await broker.is_ready()
    except Exception as exc:  # a probe answers "not ready", whatever went wrong
        logger.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
        return False
