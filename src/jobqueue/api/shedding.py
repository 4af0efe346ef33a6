"""Load shedding: past a number of requests in flight, a request is answered 503 at once."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from jobqueue.api.errors import error_response

NEVER_SHED = frozenset({"/healthz"})
"""Paths answered whatever the load: a liveness probe must not fail because the API is busy."""

LONG_LIVED = frozenset({"/ui/stream"})
"""Event streams: refused past the limit like any request, but not counted while they stay open
(an idle stream is a queue, not work), so open dashboards never crowd out the API's requests;
the connection cap bounds them."""

RETRY_AFTER_S = 1


class InFlightLimit:
    """Let at most ``max_in_flight`` HTTP requests run at once; answer the rest 503 ``overloaded``
    with ``Retry-After``, before a byte of their body is read.

    A request counts from the moment it reaches this middleware (its headers are read) until the
    app returns, so one that waits (a slow body, ``GET /jobs/{id}?wait=S``) holds its place
    while it waits. A queue of requests past the limit would only add to their latency: a
    client told to come back soon is better served than one kept waiting, and the API's memory
    stays bounded by the limit whatever the number of clients. ``max_in_flight`` 0 turns the
    limit off (the app is returned unwrapped by :func:`in_flight_limit`).
    """

    def __init__(self, app: ASGIApp, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        message = (
            f"the API has {max_in_flight} requests in flight, its limit: "
            f"try again in {RETRY_AFTER_S} s"
        )
        self.refusal = error_response(
            503, "overloaded", message, {"Retry-After": str(RETRY_AFTER_S)}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request if there is room for it, else refuse it."""
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await self.refusal(scope, receive, send)
            return
        if scope["path"] in LONG_LIVED:
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def in_flight_limit(app: ASGIApp, max_in_flight: int) -> ASGIApp:
    """``app`` behind an :class:`InFlightLimit`, or ``app`` itself when the limit is 0 (off)."""
    return InFlightLimit(app, max_in_flight) if max_in_flight > 0 else app
