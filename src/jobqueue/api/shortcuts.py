"""Endpoints served straight from the app's entry, past FastAPI's middleware stack and router.

The submit routes carry nearly all of an API's traffic, and on their way to the endpoint
FastAPI's layers (seven middlewares, a match against every route, dependency solving) cost
more CPU than the endpoint itself. A shortcut calls the same endpoint the router would, behind
the same body limit and with the same error answers; the router keeps the route too, for the
OpenAPI schema and for the 405 of another method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from jobqueue.api.errors import answer_error
from jobqueue.api.limits import BodyLimitMiddleware, LimitExceeded
from jobqueue.api.load import Rate
from jobqueue.api.ratelimit import rate_limited

Endpoint = Callable[[Request], Awaitable[Response]]


class Shortcuts:
    """``POST`` endpoints by path, each served whole by this ASGI app, behind the submission
    rate limit (when there is a ``submit_rate``) and the body limit."""

    def __init__(self, max_body_bytes: int, submit_rate: Rate | None = None) -> None:
        self._endpoints: dict[str, Endpoint] = {}
        self._limited = rate_limited(BodyLimitMiddleware(self._serve, max_body_bytes), submit_rate)

    def add(self, path: str, endpoint: Endpoint) -> None:
        """Serve ``POST path`` by ``endpoint``."""
        self._endpoints[path] = endpoint

    def paths(self) -> frozenset[str]:
        """The paths served here."""
        return frozenset(self._endpoints)

    def takes(self, scope: Scope) -> bool:
        """Whether this request is one of the shortcuts'. Under a root path (the app mounted
        below a prefix) none is: the router, which strips the prefix, serves them as usual."""
        return (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in self._endpoints
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request that :meth:`takes` accepted."""
        await self._limited(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._endpoints[scope["path"]](request)
        except LimitExceeded:
            raise  # the body limit answers it
        except ClientDisconnect:
            return  # gone before its body was whole (or too slow to send it): nobody to answer
        except Exception as exc:
            response = await answer_error(request, exc)
        await response(scope, receive, send)
